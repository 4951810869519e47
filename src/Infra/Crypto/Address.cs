using System.Runtime.CompilerServices;

namespace InfraMind.Node.Crypto;

/// <summary>An Ethereum-style address: the last 20 bytes of keccak256 of an uncompressed public key.</summary>
[InlineArray(Size)]
public struct Address : IEquatable<Address>
{
    public const int Size = 20;

    /// <summary>Characters in "0x" + 40 hex.</summary>
    public const int TextLength = 2 + (Size * 2);

    private byte _byte;

    public static Address Read(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length != Size)
            ThrowHelper.ThrowArgument(nameof(bytes), "an address needs exactly 20 bytes");
        Address address = default;
        bytes.CopyTo(address);
        return address;
    }

    /// <summary>
    /// The address of a 65-byte uncompressed public key (0x04 ‖ X ‖ Y): keccak256(X ‖ Y)[12..].
    /// </summary>
    public static Address FromPublicKey(ReadOnlySpan<byte> uncompressedPublicKey)
    {
        if (uncompressedPublicKey.Length != 65 || uncompressedPublicKey[0] != 0x04)
            ThrowHelper.ThrowArgument(nameof(uncompressedPublicKey), "expected a 65-byte uncompressed public key");
        Span<byte> hash = stackalloc byte[Keccak256.HashSize];
        Keccak256.Hash(uncompressedPublicKey[1..], hash);
        return Read(hash[12..]);
    }

    public static bool TryParse(ReadOnlySpan<char> text, out Address address) =>
        TryParse(text, out address, out _);

    /// <summary>
    /// Parses "0x" + 40 hex. All-lowercase and all-uppercase are taken as they are; mixed case must carry a
    /// valid EIP-55 checksum, since a mixed-case address with a wrong checksum is a typo, not an address.
    /// </summary>
    public static bool TryParse(ReadOnlySpan<char> text, out Address address, out AddressError error)
    {
        address = default;
        if (text.Length != TextLength || !text.StartsWith("0x", StringComparison.Ordinal))
        {
            error = AddressError.Length;
            return false;
        }

        if (!Hex.TryDecode(text, address))
        {
            error = AddressError.NotHex;
            return false;
        }

        ReadOnlySpan<char> digits = text[2..];
        bool hasUpper = digits.ContainsAnyInRange('A', 'F');
        bool hasLower = digits.ContainsAnyInRange('a', 'f');
        if (hasUpper && hasLower)
        {
            Span<char> expected = stackalloc char[TextLength];
            address.FormatChecksummed(expected);
            if (!expected.SequenceEqual(text))
            {
                address = default;
                error = AddressError.Checksum;
                return false;
            }
        }

        error = AddressError.None;
        return true;
    }

    /// <summary>Writes the EIP-55 mixed-case form into 42 chars.</summary>
    public readonly void FormatChecksummed(Span<char> destination)
    {
        if (destination.Length < TextLength)
            ThrowHelper.ThrowArgument(nameof(destination), "an address needs 42 characters");

        Hex.Encode(this, destination);
        Span<char> digits = destination[2..TextLength];

        // EIP-55: hash the lowercase hex digits as ASCII; a letter is uppercased where its hash nibble is >= 8.
        Span<byte> ascii = stackalloc byte[Size * 2];
        for (int i = 0; i < ascii.Length; i++)
            ascii[i] = (byte)digits[i];
        Span<byte> hash = stackalloc byte[Keccak256.HashSize];
        Keccak256.Hash(ascii, hash);

        for (int i = 0; i < digits.Length; i++)
        {
            int nibble = (i % 2 == 0) ? hash[i / 2] >> 4 : hash[i / 2] & 0x0f;
            if (nibble >= 8 && digits[i] >= 'a')
                digits[i] = (char)(digits[i] - ('a' - 'A'));
        }
    }

    public readonly bool IsZero => !((ReadOnlySpan<byte>)this).ContainsAnyExcept((byte)0);

    public readonly bool Equals(Address other) => ((ReadOnlySpan<byte>)this).SequenceEqual(other);

    public override readonly bool Equals(object? obj) => obj is Address other && Equals(other);

    public override readonly int GetHashCode() => BitConverter.ToInt32(this);

    /// <summary>The EIP-55 checksummed form, e.g. 0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf.</summary>
    public override readonly string ToString()
    {
        Span<char> text = stackalloc char[TextLength];
        FormatChecksummed(text);
        return new string(text);
    }

    public static bool operator ==(Address left, Address right) => left.Equals(right);

    public static bool operator !=(Address left, Address right) => !left.Equals(right);
}

public enum AddressError
{
    None,
    Length,
    NotHex,
    Checksum,
}
