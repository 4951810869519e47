using System.Buffers.Binary;
using System.Text.Unicode;

namespace InfraMind.Node.Crypto.Eip712;

/// <summary>
/// Computes hashStruct(s) = keccak256(typeHash ‖ encodeData(s)) field by field, streaming into one Keccak
/// state so no encoded buffer is ever built. Fields must be written in the type's declared order.
/// </summary>
public struct StructHasher
{
    private Keccak256 _keccak;

    public StructHasher(Eip712Type type)
    {
        _keccak = default;
        _keccak.Append(type.TypeHash);
    }

    /// <summary>string: keccak256 of its UTF-8 bytes (lone surrogates become U+FFFD, as in UTF-8 encoders).</summary>
    public void AddString(ReadOnlySpan<char> value)
    {
        var inner = default(Keccak256);
        Span<byte> chunk = stackalloc byte[256];
        while (true)
        {
            // isFinalBlock: false keeps a surrogate pair split across chunks together.
            Utf8.FromUtf16(value, chunk, out int read, out int written, replaceInvalidSequences: true, isFinalBlock: value.Length <= 64);
            inner.Append(chunk[..written]);
            value = value[read..];
            if (value.IsEmpty)
                break;
        }

        Span<byte> hash = stackalloc byte[Keccak256.HashSize];
        inner.Finish(hash);
        _keccak.Append(hash);
    }

    /// <summary>bytes32: the 32 bytes as they are.</summary>
    public void AddBytes32(in Hash32 value) => _keccak.Append(value);

    /// <summary>uint8 … uint256 holding a value that fits 64 bits: a 32-byte big-endian word.</summary>
    public void AddUint64(ulong value)
    {
        Span<byte> word = stackalloc byte[32];
        word[..24].Clear();
        BinaryPrimitives.WriteUInt64BigEndian(word[24..], value);
        _keccak.Append(word);
    }

    public void AddUint8(byte value) => AddUint64(value);

    /// <summary>address: left-padded with 12 zero bytes to a 32-byte word.</summary>
    public void AddAddress(in Address value)
    {
        Span<byte> word = stackalloc byte[32];
        word[..12].Clear();
        ((ReadOnlySpan<byte>)value).CopyTo(word[12..]);
        _keccak.Append(word);
    }

    public Hash32 Finish()
    {
        Hash32 hash = default;
        _keccak.Finish(hash);
        return hash;
    }
}
