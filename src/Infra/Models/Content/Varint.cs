namespace InfraMind.Node.Models.Content;

/// <summary>What a varint read found.</summary>
internal enum VarintStatus
{
    Done,

    /// <summary>The bytes ran out before the last byte (high bit clear) came.</summary>
    Truncated,

    /// <summary>Over 9 bytes, or not in its shortest form.</summary>
    Malformed,
}

/// <summary>
/// The multiformats unsigned varint (LEB128, at most 9 bytes, shortest form only). Shortest form matters: two
/// spellings of one CID would hash the same block under two keys.
/// </summary>
internal static class Varint
{
    public const int MaxBytes = 9;

    public static VarintStatus TryRead(ReadOnlySpan<byte> bytes, out ulong value, out int consumed)
    {
        value = 0;
        consumed = 0;
        for (int i = 0; i < MaxBytes; i++)
        {
            if (i == bytes.Length)
                return VarintStatus.Truncated;
            byte b = bytes[i];
            value |= (ulong)(b & 0x7F) << (7 * i);
            if ((b & 0x80) == 0)
            {
                if (b == 0 && i > 0)
                    return VarintStatus.Malformed;
                consumed = i + 1;
                return VarintStatus.Done;
            }
        }

        return VarintStatus.Malformed;
    }

    public static int Length(ulong value)
    {
        int length = 1;
        while (value >= 0x80)
        {
            value >>= 7;
            length++;
        }

        return length;
    }

    public static int Write(ulong value, Span<byte> destination)
    {
        int i = 0;
        while (value >= 0x80)
        {
            destination[i++] = (byte)(value | 0x80);
            value >>= 7;
        }

        destination[i++] = (byte)value;
        return i;
    }
}
