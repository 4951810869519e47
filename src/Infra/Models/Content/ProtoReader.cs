namespace InfraMind.Node.Models.Content;

/// <summary>Protobuf wire types; 3 and 4 (groups) are long deprecated and refused.</summary>
internal enum WireType
{
    Varint = 0,
    Fixed64 = 1,
    LengthDelimited = 2,
    StartGroup = 3,
    EndGroup = 4,
    Fixed32 = 5,
}

/// <summary>
/// Just enough protobuf to read dag-pb and UnixFS: tags, varints, length-delimited fields, and skipping the
/// fields it does not know. Every length is checked against what is left, so a lying length cannot read past the
/// message. Fails with <see cref="BundleError.DagMalformed"/>, naming <c>what</c> it was reading.
/// </summary>
internal ref struct ProtoReader
{
    private const int MaxVarintBytes = 10;

    private readonly ReadOnlySpan<byte> _bytes;
    private readonly string _what;
    private int _at;

    public ProtoReader(ReadOnlySpan<byte> bytes, string what)
    {
        _bytes = bytes;
        _what = what;
    }

    public readonly bool End => _at == _bytes.Length;

    public int ReadTag(out WireType wireType)
    {
        ulong tag = ReadVarint();
        int type = (int)(tag & 7);
        ulong field = tag >> 3;
        if (field == 0 || field > int.MaxValue)
            Fail($"field number {field} is out of range");
        if (type is 3 or 4)
            Fail($"field {field} uses a protobuf group (wire type {type}), which dag-pb and UnixFS never contain");
        if (type is 6 or 7)
            Fail($"field {field} has wire type {type}, which does not exist");
        wireType = (WireType)type;
        return (int)field;
    }

    public ulong ReadVarint()
    {
        ulong value = 0;
        for (int i = 0; i < MaxVarintBytes; i++)
        {
            if (_at == _bytes.Length)
                Fail("it ends inside a varint");
            byte b = _bytes[_at++];
            if (i == MaxVarintBytes - 1 && b > 1)
                Fail("a varint is over 64 bits");
            value |= (ulong)(b & 0x7F) << (7 * i);
            if ((b & 0x80) == 0)
                return value;
        }

        return Fail<ulong>("a varint is over 10 bytes");
    }

    /// <summary>Reads a length-delimited field and returns where its bytes lie in the message.</summary>
    public Range ReadLengthDelimited()
    {
        ulong length = ReadVarint();
        if (length > (ulong)(_bytes.Length - _at))
            Fail($"a field says it is {length} bytes but only {_bytes.Length - _at} remain");
        int start = _at;
        _at += (int)length;
        return new Range(start, _at);
    }

    public void Skip(WireType wireType)
    {
        switch (wireType)
        {
            case WireType.Varint:
                ReadVarint();
                break;
            case WireType.LengthDelimited:
                ReadLengthDelimited();
                break;
            case WireType.Fixed64:
                Advance(8);
                break;
            case WireType.Fixed32:
                Advance(4);
                break;
            default:
                Fail($"wire type {(int)wireType} cannot be skipped");
                break;
        }
    }

    /// <summary>Fails unless <paramref name="actual"/> is the wire type a known field must have.</summary>
    public readonly void Expect(int field, WireType actual, WireType expected)
    {
        if (actual != expected)
            Fail($"field {field} has wire type {(int)actual}; it must be {(int)expected}");
    }

    private void Advance(int count)
    {
        if (_bytes.Length - _at < count)
            Fail($"it ends inside a {count}-byte fixed field");
        _at += count;
    }

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    public readonly void Fail(string detail) =>
        BundleThrow.Throw(BundleError.DagMalformed, $"the {_what} is malformed: {detail}");

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private readonly T Fail<T>(string detail) =>
        BundleThrow.Throw<T>(BundleError.DagMalformed, $"the {_what} is malformed: {detail}");
}
