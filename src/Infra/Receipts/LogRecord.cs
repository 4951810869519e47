using System.Buffers.Binary;
using System.Numerics;

namespace InfraMind.Node.Receipts;

/// <summary>What a log record holds.</summary>
public enum LogRecordKind : byte
{
    /// <summary>A signed receipt's JSON.</summary>
    Receipt = 1,

    /// <summary>A signed rejection's JSON.</summary>
    Rejection = 2,

    /// <summary><c>{"job_id":"…"}</c>: the scheduler stored that job's receipt (receipt_ack).</summary>
    Ack = 3,
}

/// <summary>How a read of one record at an offset ended.</summary>
public enum LogRecordStatus
{
    Ok,

    /// <summary>The bytes end inside the record, or the header claims more than is there.</summary>
    Truncated,

    /// <summary>A bad kind, a length over the limit, or a checksum that does not match.</summary>
    Corrupt,
}

/// <summary>
/// The receipt log's framing, as pure functions of bytes:
/// <c>[u32 LE payload length][u32 LE CRC-32C][u8 kind][payload]</c>. The CRC covers the length, the kind and
/// the payload, so a torn or bit-flipped record anywhere in it is caught. <see cref="BitOperations.Crc32C(uint, ulong)"/>
/// is the crc32 instruction only where the compiler knows the CPU has it: the x64 binary targets x86-64-v2 for that
/// (Infra.csproj); the arm64 one, on the base ARMv8.0 set, runs a table loop.
/// </summary>
public static class LogRecord
{
    public const int HeaderSize = 9;

    /// <summary>A receipt is a few KiB; a record claiming more is damage, and resynchronising stays cheap.</summary>
    public const int MaxPayload = TypedDataJson.MaxDocumentBytes;

    public static int SizeOf(int payloadLength) => HeaderSize + payloadLength;

    /// <summary>Frames <paramref name="payload"/> into <paramref name="destination"/>; returns the bytes written.</summary>
    public static int Write(LogRecordKind kind, ReadOnlySpan<byte> payload, Span<byte> destination)
    {
        if (payload.IsEmpty || payload.Length > MaxPayload)
            ThrowHelper.ThrowArgument(nameof(payload), $"a log record holds 1 to {MaxPayload} bytes");
        int size = SizeOf(payload.Length);
        if (destination.Length < size)
            ThrowHelper.ThrowArgument(nameof(destination), "the destination is smaller than the record");

        BinaryPrimitives.WriteUInt32LittleEndian(destination, (uint)payload.Length);
        destination[8] = (byte)kind;
        payload.CopyTo(destination[HeaderSize..]);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[4..], Checksum(destination[..4], (byte)kind, payload));
        return size;
    }

    /// <summary>
    /// The bytes of <paramref name="data"/> up to its last non-zero one: the receipt log's file is zero-filled after
    /// its last record (<see cref="ReceiptLog.ReserveBytes"/>), and every record ends in its payload's closing brace.
    /// </summary>
    public static int EndOfContent(ReadOnlySpan<byte> data) => data.LastIndexOfAnyExcept((byte)0) + 1;

    /// <summary>Reads the record at the start of <paramref name="data"/>.</summary>
    public static LogRecordStatus TryRead(ReadOnlySpan<byte> data, out LogRecordKind kind, out ReadOnlySpan<byte> payload, out int size)
    {
        kind = default;
        payload = default;
        size = 0;
        if (data.Length < HeaderSize)
            return LogRecordStatus.Truncated;

        uint length = BinaryPrimitives.ReadUInt32LittleEndian(data);
        byte kindByte = data[8];
        if (length == 0 || length > MaxPayload || kindByte is < (byte)LogRecordKind.Receipt or > (byte)LogRecordKind.Ack)
            return LogRecordStatus.Corrupt;
        if (data.Length - HeaderSize < length)
            return LogRecordStatus.Truncated;

        ReadOnlySpan<byte> body = data.Slice(HeaderSize, (int)length);
        if (BinaryPrimitives.ReadUInt32LittleEndian(data[4..]) != Checksum(data[..4], kindByte, body))
            return LogRecordStatus.Corrupt;

        kind = (LogRecordKind)kindByte;
        payload = body;
        size = HeaderSize + (int)length;
        return LogRecordStatus.Ok;
    }

    private static uint Checksum(ReadOnlySpan<byte> length, byte kind, ReadOnlySpan<byte> payload)
    {
        uint crc = Crc32C.Append(uint.MaxValue, length);
        crc = BitOperations.Crc32C(crc, kind);
        return ~Crc32C.Append(crc, payload);
    }
}

/// <summary>CRC-32C (Castagnoli), the checksum of iSCSI, ext4 metadata and RocksDB.</summary>
public static class Crc32C
{
    public static uint Compute(ReadOnlySpan<byte> data) => ~Append(uint.MaxValue, data);

    /// <summary>Continues a raw (not inverted) CRC state over more bytes.</summary>
    public static uint Append(uint crc, ReadOnlySpan<byte> data)
    {
        while (data.Length >= 8)
        {
            crc = BitOperations.Crc32C(crc, BinaryPrimitives.ReadUInt64LittleEndian(data));
            data = data[8..];
        }

        foreach (byte b in data)
            crc = BitOperations.Crc32C(crc, b);
        return crc;
    }
}
