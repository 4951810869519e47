using System.Buffers;

namespace InfraMind.Node.Containers.Engine;

/// <summary>Collects output up to a cap, then only counts what it dropped.</summary>
public sealed class CappedBuffer(int capacity)
{
    private readonly ArrayBufferWriter<byte> _buffer = new(Math.Min(capacity, 4096));

    public int Capacity { get; } = capacity;

    public long TotalBytes { get; private set; }

    public bool Overflowed => TotalBytes > Capacity;

    public void Append(ReadOnlySequence<byte> data)
    {
        foreach (ReadOnlyMemory<byte> segment in data)
            Append(segment.Span);
    }

    public void Append(ReadOnlySpan<byte> data)
    {
        TotalBytes += data.Length;
        int room = Capacity - _buffer.WrittenCount;
        if (room > 0)
            _buffer.Write(data[..Math.Min(room, data.Length)]);
    }

    public ReadOnlySpan<byte> WrittenSpan => _buffer.WrittenSpan;

    public byte[] ToArray() => _buffer.WrittenSpan.ToArray();
}
