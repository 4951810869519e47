using NBitcoin.Secp256k1;

namespace InfraMind.Node.Crypto;

/// <summary>
/// The node's secp256k1 key: signs 32-byte digests as Ethereum does (r ‖ s ‖ v, low-s, v = 27 or 28).
/// The private scalar lives inside libsecp256k1's structure and is cleared on Dispose.
/// </summary>
public sealed class NodeKey : IDisposable
{
    public const int PrivateKeySize = 32;
    public const int CompressedPublicKeySize = 33;
    public const int UncompressedPublicKeySize = 65;

    private readonly ECPrivKey _key;
    private readonly byte[] _compressedPublicKey;

    private NodeKey(ECPrivKey key)
    {
        _key = key;
        ECPubKey publicKey = key.CreatePubKey();
        Span<byte> uncompressed = stackalloc byte[UncompressedPublicKeySize];
        publicKey.WriteToSpan(compressed: false, uncompressed, out _);
        Address = Address.FromPublicKey(uncompressed);
        _compressedPublicKey = new byte[CompressedPublicKeySize];
        publicKey.WriteToSpan(compressed: true, _compressedPublicKey, out _);
    }

    /// <summary>The node ID: the key's Ethereum address.</summary>
    public Address Address { get; }

    /// <summary>The 33-byte compressed public key sent in the mesh hello.</summary>
    public ReadOnlySpan<byte> CompressedPublicKey => _compressedPublicKey;

    /// <summary>
    /// Loads a key from its 32 secret bytes; false when the bytes are zero or not below the curve order.
    /// </summary>
    public static bool TryCreate(ReadOnlySpan<byte> privateKey, out NodeKey? key)
    {
        key = null;
        if (privateKey.Length != PrivateKeySize || !ECPrivKey.TryCreate(privateKey, out ECPrivKey? ecKey))
            return false;
        key = new NodeKey(ecKey);
        return true;
    }

    /// <summary>A fresh key from the operating system's CSPRNG; the secret is written to <paramref name="privateKey"/>.</summary>
    public static NodeKey Generate(Span<byte> privateKey)
    {
        if (privateKey.Length != PrivateKeySize)
            ThrowHelper.ThrowArgument(nameof(privateKey), "a private key is 32 bytes");

        // A uniform 32-byte value is a valid scalar with probability 1 - 2^-128; retry the rest.
        while (true)
        {
            SystemEntropy.Fill(privateKey);
            if (TryCreate(privateKey, out NodeKey? key))
                return key!;
        }
    }

    /// <summary>Writes the 65-byte Ethereum signature (r ‖ s ‖ v) of a 32-byte digest. Deterministic (RFC 6979).</summary>
    public void Sign(ReadOnlySpan<byte> digest, Span<byte> signature)
    {
        if (digest.Length != 32)
            ThrowHelper.ThrowArgument(nameof(digest), "a digest is 32 bytes");
        if (signature.Length < EthSignature.Size)
            ThrowHelper.ThrowArgument(nameof(signature), "a signature needs 65 bytes");

        // libsecp256k1 always produces the low-s form, which is what EIP-2 requires.
        if (!_key.TrySignRecoverable(digest, out SecpRecoverableECDSASignature? recoverable))
            ThrowHelper.ThrowRuntime("signing failed inside libsecp256k1; the key may be corrupt: re-create it with `infra init --keygen --force`");
        recoverable!.WriteToSpanCompact(signature[..64], out int recoveryId);
        signature[64] = (byte)(27 + recoveryId);
    }

    public void Dispose() => _key.Dispose();
}
