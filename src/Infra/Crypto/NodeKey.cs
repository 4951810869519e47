using NBitcoin.Secp256k1;

namespace InfraMind.Node.Crypto;

/// <summary>Where a signature's nonce comes from; both give valid r ‖ s ‖ v signatures of the same key.</summary>
public enum NonceSource
{
    /// <summary>RFC 6979, from the key and the digest: one digest always gives the same bytes (<see cref="NodeKey.Sign"/>).</summary>
    Deterministic,

    /// <summary>
    /// A random one-use nonce computed ahead of time (<see cref="NodeKey.SignWithPrecomputedNonce"/>): from a filled
    /// pool a signature costs about a microsecond instead of a few hundred, and its bytes differ every time.
    /// </summary>
    Precomputed,
}

/// <summary>
/// The node's secp256k1 key: signs 32-byte digests as Ethereum does (r ‖ s ‖ v, low-s, v = 27 or 28).
/// The private scalar lives inside libsecp256k1's structure and is cleared on Dispose, as are precomputed nonces.
/// </summary>
public sealed class NodeKey : IDisposable
{
    public const int PrivateKeySize = 32;
    public const int CompressedPublicKeySize = 33;
    public const int UncompressedPublicKeySize = 65;

    private readonly ECPrivKey _key;
    private readonly byte[] _compressedPublicKey;
    private readonly NoncePool _nonces;

    private NodeKey(ECPrivKey key)
    {
        _key = key;
        _nonces = new NoncePool(key);
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

    /// <summary>
    /// Starts computing nonces for <see cref="SignWithPrecomputedNonce"/> in the background, at idle priority, until
    /// Dispose. Idempotent.
    /// </summary>
    public void StartNoncePool() => _nonces.StartRefilling();

    /// <summary>
    /// Writes the 65-byte Ethereum signature (r ‖ s ‖ v) of a 32-byte digest with a random nonce from the pool that
    /// <see cref="StartNoncePool"/> keeps filled, or computed here when the pool is empty (as slow as
    /// <see cref="Sign"/>). Not deterministic: for bytes that must be reproducible, use <see cref="Sign"/>.
    /// </summary>
    public void SignWithPrecomputedNonce(ReadOnlySpan<byte> digest, Span<byte> signature)
    {
        if (digest.Length != 32)
            ThrowHelper.ThrowArgument(nameof(digest), "a digest is 32 bytes");
        if (signature.Length < EthSignature.Size)
            ThrowHelper.ThrowArgument(nameof(signature), "a signature needs 65 bytes");

        while (true)
        {
            PrecomputedNonce nonce = _nonces.Take();
            bool signed = nonce.TrySign(in _key.sec, digest, signature);
            nonce.Clear();
            if (signed)
                return;

            // s = 0 (z ≡ −r·d, about 2⁻²⁵⁶): that nonce is spent; take another.
        }
    }

    internal NoncePool Nonces => _nonces;

    public void Dispose()
    {
        // The pool's refiller reads the key: stop it before the key is cleared.
        _nonces.Dispose();
        _key.Dispose();
    }
}
