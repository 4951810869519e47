using BenchmarkDotNet.Attributes;
using InfraMind.Node.Crypto;
using InfraMind.Node.Crypto.Eip712;
using NBitcoin.Secp256k1;

namespace InfraMind.Node.Benchmarks;

/// <summary>
/// The node's per-job crypto: hashing payloads, the EIP-712 digest of a job, signing it, recovering a signer and
/// checking a known signer's signature. Names starting with Keccak, Eip712 or Secp256k1VerifyKnownSigner are held to
/// 0 B/op by <see cref="AllocationBudget"/>.
/// </summary>
[MemoryDiagnoser]
public class CryptoBenchmarks : IDisposable
{
    // The "Job realistic" vector of tests/vectors/crypto-vectors.json (checked there against ethers).
    private const ulong ChainId = 31337;
    private const string InputHash = "0x8f7525715e702d974c68ccf654815c6626e4b661862f57c5db3b9b91fdcb72c9";
    private const string NodeAddress = "0x4B538D48267af2a57D607a0d2C2Ec23dF9AE784b";
    private const string ExpectedDigest = "0xd00b4a9bc91e6b93a5a7935e63cae7be539f88e154d2be78dde3662fd449c4f6";
    private const string PrivateKey = "cfcc913a7286b101bf53ef1a901fe07112fad76b93f15ca30b3e40055842bb3d";
    private const string ExpectedSignature = "eef37813ea350c123ec1932821e8a438c5fff15e2de32ff3cc34d910dbd4f6b3729226737b3d9f3344e94d4607df0b920fee29181c8f64a3c2a76c76bc3808b41c";
    private const string ExpectedSigner = "0x1333014a9b2a0B070FFb9B10e2245B06F6AFfd41";

    private byte[] _data32 = [];
    private byte[] _data1KiB = [];
    private byte[] _data1MiB = [];
    private Eip712Domain _domain = null!;
    private JobStruct _job;
    private byte[] _digest = [];
    private NodeKey? _key;
    private byte[] _signatureOut = [];
    private byte[] _signature = [];
    private Address _signer;
    private KnownSigners _knownSigners = null!;

    [GlobalSetup]
    public void Setup()
    {
        _data32 = Pattern(32);
        _data1KiB = Pattern(1024);
        _data1MiB = Pattern(1024 * 1024);

        _domain = new Eip712Domain(ChainId);
        _job = new JobStruct(
            JobId: "a6b4-23fa",
            ModelHash: "QmWx9aLz3kVn8rT2pQe5sJ7yHdF4gBc6mN1oUxR9vKtZwE",
            ContainerUri: "ipfs://bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi/serve:1.4.2",
            Entrypoint: "serve.py",
            InputSchema: "text",
            OutputSchema: "embedding<float>",
            InputHash: ParseHash(InputHash),
            Deadline: 1_719_450_000,
            Node: ParseAddress(NodeAddress));

        // Measure the right thing: the inputs must reproduce the vector byte for byte.
        Hash32 digest = _domain.Digest(in _job);
        Require(digest == ParseHash(ExpectedDigest), $"Job digest {digest} is not the vector's {ExpectedDigest}");
        _digest = ((ReadOnlySpan<byte>)digest).ToArray();

        Require(NodeKey.TryCreate(Convert.FromHexString(PrivateKey), out _key), "the vector's private key was refused");
        _signatureOut = new byte[EthSignature.Size];
        _signature = Convert.FromHexString(ExpectedSignature);
        _key!.Sign(_digest, _signatureOut);
        Require(_signatureOut.AsSpan().SequenceEqual(_signature), "signing the vector's digest gave another signature");
        Require(
            EthSignature.TryRecover(_digest, _signature, out _signer, out ECPubKey? publicKey, out SignatureError error) && _signer == ParseAddress(ExpectedSigner),
            $"recovery gave {_signer} ({error}), not {ExpectedSigner}");

        // The signer's key learnt as JobVerifier learns it, its table built before anything is measured.
        _knownSigners = new KnownSigners([_signer]);
        Require(_knownSigners.Learn(_signer, publicKey!), "the recovered key was not learnt");
        _knownSigners.WhenBuilt(_signer).GetAwaiter().GetResult();
        Require(_knownSigners.TryVerify(_digest, _signature, _signer), "the known-signer check refused the vector's signature");
        _signature[40] ^= 1;
        Require(!_knownSigners.TryVerify(_digest, _signature, _signer), "the known-signer check accepted an altered signature");
        _signature[40] ^= 1;
    }

    [GlobalCleanup]
    public void Dispose()
    {
        _key?.Dispose();
        _key = null;
        GC.SuppressFinalize(this);
    }

    [Benchmark]
    public Hash32 Keccak32B() => Keccak256.Hash(_data32);

    [Benchmark]
    public Hash32 Keccak1KiB() => Keccak256.Hash(_data1KiB);

    [Benchmark]
    public Hash32 Keccak1MiB() => Keccak256.Hash(_data1MiB);

    /// <summary>hashStruct(Job) (nine fields, six strings) plus the 0x1901 ‖ separator ‖ structHash wrap.</summary>
    [Benchmark]
    public Hash32 Eip712JobDigest() => _domain.Digest(in _job);

    /// <summary>Recoverable ECDSA over a 32-byte digest (RFC 6979 nonce), written as r ‖ s ‖ v.</summary>
    [Benchmark]
    public byte Secp256k1Sign()
    {
        _key!.Sign(_digest, _signatureOut);
        return _signatureOut[64];
    }

    /// <summary>EIP-2 checks, public key recovery and keccak of the key into an address.</summary>
    [Benchmark]
    public Address Secp256k1Recover()
    {
        EthSignature.TryRecover(_digest, _signature, out Address signer, out _);
        return signer;
    }

    /// <summary>
    /// <see cref="KnownSigners.TryVerify"/> with the signer's key learnt, what <see cref="Jobs.Intake.JobVerifier"/> does for a
    /// trusted scheduler instead of <see cref="Secp256k1Recover"/>: the EIP-2 checks, s⁻¹, u₁·G + u₂·Q from two
    /// fixed-base tables (no doublings), one field inverse, and x and y parity against r and v.
    /// </summary>
    [Benchmark]
    public bool Secp256k1VerifyKnownSigner() => _knownSigners.TryVerify(_digest, _signature, in _signer);

    private static byte[] Pattern(int length)
    {
        var data = new byte[length];
        for (int i = 0; i < data.Length; i++)
            data[i] = (byte)((i * 167) + 13);
        return data;
    }

    private static Hash32 ParseHash(string text)
    {
        Require(Hash32.TryParse(text, out Hash32 hash), $"bad hash {text}");
        return hash;
    }

    private static Address ParseAddress(string text)
    {
        Require(Address.TryParse(text, out Address address), $"bad address {text}");
        return address;
    }

    private static void Require(bool condition, string message)
    {
        if (!condition)
            throw new InvalidOperationException("benchmark setup: " + message);
    }
}

/// <summary>
/// <see cref="NodeKey.SignWithPrecomputedNonce"/> with a nonce already in the pool, the agent's receipt path while the
/// node has been idle: taking the nonce under the pool's lock, s = k⁻¹·(z + r·d), low-s, r ‖ s ‖ v, clearing the
/// nonce. It leaves out what the background refiller pays for each nonce (about one <c>Secp256k1Sign</c>) and
/// the inline path of an empty pool (also about one <c>Secp256k1Sign</c>). Compare with
/// <see cref="CryptoBenchmarks.Secp256k1Sign"/>, same key and digest.
/// </summary>
/// <remarks>
/// One iteration is at most one full pool: <see cref="FillPool"/> fills it on this thread before each iteration (the
/// refiller is never started, so nothing runs beside the measurement), an iteration signs
/// <see cref="NoncePool.DefaultCapacity"/> times (fewer in BenchmarkDotNet's jitting stage), and
/// <see cref="CheckNoNonceWasInline"/> fails the run if an iteration ever signed more, which would time an inline nonce.
/// </remarks>
[MemoryDiagnoser]
[InvocationCount(NoncePool.DefaultCapacity)]
public class PrecomputedNonceSignBenchmarks : IDisposable
{
    private const string PrivateKey = "cfcc913a7286b101bf53ef1a901fe07112fad76b93f15ca30b3e40055842bb3d";
    private const string Digest = "d00b4a9bc91e6b93a5a7935e63cae7be539f88e154d2be78dde3662fd449c4f6";

    private NodeKey? _key;
    private byte[] _digest = [];
    private byte[] _signatureOut = [];
    private int _signedThisIteration;

    [GlobalSetup]
    public void Setup()
    {
        if (!NodeKey.TryCreate(Convert.FromHexString(PrivateKey), out _key))
            throw new InvalidOperationException("benchmark setup: the vector's private key was refused");
        _digest = Convert.FromHexString(Digest);
        _signatureOut = new byte[EthSignature.Size];
        _key!.SignWithPrecomputedNonce(_digest, _signatureOut);
        if (!EthSignature.Verify(_digest, _signatureOut, _key.Address))
            throw new InvalidOperationException("benchmark setup: a precomputed-nonce signature does not verify");
    }

    [IterationSetup]
    public void FillPool()
    {
        _key!.Nonces.FillNow();
        _signedThisIteration = 0;
    }

    [IterationCleanup]
    public void CheckNoNonceWasInline()
    {
        if (_signedThisIteration > _key!.Nonces.Capacity)
            throw new InvalidOperationException($"benchmark: {_signedThisIteration} signatures in one iteration from a pool of {_key.Nonces.Capacity}; keep the invocation count at the capacity");
    }

    [GlobalCleanup]
    public void Dispose()
    {
        _key?.Dispose();
        _key = null;
        GC.SuppressFinalize(this);
    }

    /// <summary>Recoverable ECDSA over the Job vector's digest with a pooled nonce, written as r ‖ s ‖ v.</summary>
    [Benchmark]
    public byte Secp256k1SignPrecomputedNonce()
    {
        _signedThisIteration++;
        _key!.SignWithPrecomputedNonce(_digest, _signatureOut);
        return _signatureOut[64];
    }
}
