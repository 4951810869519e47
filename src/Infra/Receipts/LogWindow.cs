using Microsoft.Win32.SafeHandles;

namespace InfraMind.Node.Receipts;

/// <summary>
/// A read-only view of a receipt log file's content through one buffer, for reading the log front to back without
/// holding it in memory (a log grows without end, and an array cannot hold more than 2 GB): <see cref="At"/> gives the
/// bytes from a position to the buffer's end, at least a whole record's worth (or all that is left), refilling from
/// that position when not. Used by recovery (<see cref="ReceiptLog"/>) and by the CLI's snapshot.
/// </summary>
internal sealed class LogWindow(SafeFileHandle file, long contentEnd, int window)
{
    private static readonly int LargestRecord = LogRecord.SizeOf(LogRecord.MaxPayload);
    private readonly byte[] _buffer = new byte[(int)Math.Min(Math.Max(window, LargestRecord), Math.Max(contentEnd, LogRecord.HeaderSize + 1))];
    private long _start;
    private int _length;

    /// <summary>Where the records end: the zero-filled reserve after them is not read.</summary>
    public long ContentEnd => contentEnd;

    public ReadOnlySpan<byte> At(long position)
    {
        long wanted = Math.Min(LargestRecord, contentEnd - position);
        if (position < _start || position + wanted > _start + _length)
        {
            _start = position;
            _length = ReadFully(file, _buffer.AsSpan(0, (int)Math.Min(_buffer.Length, contentEnd - position)), position);
        }

        return _buffer.AsSpan((int)(position - _start), (int)(_start + _length - position));
    }

    /// <summary>Where the file's content ends: after its last non-zero byte, read backwards a block at a time.</summary>
    public static long EndOfContent(SafeFileHandle file)
    {
        byte[] block = new byte[64 * 1024];
        long end = RandomAccess.GetLength(file);
        while (end > 0)
        {
            int size = (int)Math.Min(block.Length, end);
            int got = ReadFully(file, block.AsSpan(0, size), end - size);
            int last = LogRecord.EndOfContent(block.AsSpan(0, got));
            if (last > 0)
                return end - size + last;
            end -= size;
        }

        return 0;
    }

    /// <summary>Reads until <paramref name="buffer"/> is full or the file ends; the bytes read.</summary>
    public static int ReadFully(SafeFileHandle file, Span<byte> buffer, long offset)
    {
        int total = 0;
        while (total < buffer.Length)
        {
            int got = RandomAccess.Read(file, buffer[total..], offset + total);
            if (got == 0)
                break;
            total += got;
        }

        return total;
    }
}
