using System.Runtime.CompilerServices;

namespace InfraMind.Node.Crypto;

/// <summary>A 32-byte hash (keccak256 or sha256) held inline, with no heap array behind it.</summary>
[InlineArray(Size)]
public struct Hash32 : IEquatable<Hash32>
{
    public const int Size = 32;

    private byte _byte;

    public static Hash32 Read(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length != Size)
            ThrowHelper.ThrowArgument(nameof(bytes), "a 32-byte hash needs exactly 32 bytes");
        Hash32 hash = default;
        bytes.CopyTo(hash);
        return hash;
    }

    public static bool TryParse(ReadOnlySpan<char> text, out Hash32 hash)
    {
        hash = default;
        return text.StartsWith("0x", StringComparison.Ordinal) && Hex.TryDecode(text, hash);
    }

    public readonly bool Equals(Hash32 other) => ((ReadOnlySpan<byte>)this).SequenceEqual(other);

    public override readonly bool Equals(object? obj) => obj is Hash32 other && Equals(other);

    public override readonly int GetHashCode() => BitConverter.ToInt32(this);

    /// <summary>"0x" + 64 lowercase hex, as CONTRACT.md §2 writes hashes.</summary>
    public override readonly string ToString() => Hex.Encode(this);

    public static bool operator ==(Hash32 left, Hash32 right) => left.Equals(right);

    public static bool operator !=(Hash32 left, Hash32 right) => !left.Equals(right);
}
