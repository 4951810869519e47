using System.Diagnostics.CodeAnalysis;
using NBitcoin.Secp256k1;

namespace InfraMind.Node.Crypto;

/// <summary>Why a signature was not accepted.</summary>
public enum SignatureError
{
    None,
    Length,
    RecoveryByte,
    HighS,
    Unrecoverable,
}

/// <summary>Recovery of the signer of a 65-byte r ‖ s ‖ v signature, strict about malleable forms.</summary>
public static class EthSignature
{
    public const int Size = 65;

    // n / 2 for secp256k1, big-endian: an s above it is the malleable twin of a valid signature (EIP-2).
    private static ReadOnlySpan<byte> HalfOrder =>
    [
        0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0x5d, 0x57, 0x6e, 0x73, 0x57, 0xa4, 0x50, 0x1d, 0xdf, 0xe9, 0x2f, 0x46, 0x68, 0x1b, 0x20, 0xa0,
    ];

    /// <summary>Recovers the address that signed <paramref name="digest"/>.</summary>
    public static bool TryRecover(ReadOnlySpan<byte> digest, ReadOnlySpan<byte> signature, out Address signer, out SignatureError error) =>
        TryRecover(digest, signature, out signer, out _, out error);

    /// <summary>
    /// Recovers the address that signed <paramref name="digest"/> and the public key behind it, for a caller that
    /// checks that signer's later signatures without recovery (<see cref="KnownSigners"/>).
    /// </summary>
    public static bool TryRecover(ReadOnlySpan<byte> digest, ReadOnlySpan<byte> signature, out Address signer, [NotNullWhen(true)] out ECPubKey? publicKey, out SignatureError error)
    {
        signer = default;
        publicKey = null;
        error = CheckForm(digest, signature);
        if (error != SignatureError.None)
            return false;

        if (!SecpRecoverableECDSASignature.TryCreateFromCompact(signature[..64], signature[64] - 27, out SecpRecoverableECDSASignature? recoverable)
            || !ECPubKey.TryRecover(Context.Instance, recoverable!, digest, out publicKey))
        {
            publicKey = null;
            error = SignatureError.Unrecoverable;
            return false;
        }

        signer = AddressOf(publicKey!);
        return true;
    }

    /// <summary>True when the signature is valid and recovers to <paramref name="expectedSigner"/>.</summary>
    public static bool Verify(ReadOnlySpan<byte> digest, ReadOnlySpan<byte> signature, in Address expectedSigner) =>
        TryRecover(digest, signature, out Address signer, out _) && signer == expectedSigner;

    /// <summary>
    /// The checks on the form alone, before any curve arithmetic: a 32-byte digest, 65 bytes, v of 27 or 28, and
    /// s at most n / 2. r and s in 1..n−1 are left to the arithmetic that reads them.
    /// </summary>
    internal static SignatureError CheckForm(ReadOnlySpan<byte> digest, ReadOnlySpan<byte> signature)
    {
        if (digest.Length != 32 || signature.Length != Size)
            return SignatureError.Length;
        if (signature[64] is not (27 or 28))
            return SignatureError.RecoveryByte;
        if (signature.Slice(32, 32).SequenceCompareTo(HalfOrder) > 0)
            return SignatureError.HighS;
        return SignatureError.None;
    }

    /// <summary>The Ethereum address of a public key.</summary>
    internal static Address AddressOf(ECPubKey publicKey)
    {
        Span<byte> uncompressed = stackalloc byte[NodeKey.UncompressedPublicKeySize];
        publicKey.WriteToSpan(compressed: false, uncompressed, out _);
        return Address.FromPublicKey(uncompressed);
    }
}
