using System.Security.Cryptography;
using InfraMind.Node.Crypto;
using InfraMind.Node.Tests.Support;
using NBitcoin.Secp256k1;

namespace InfraMind.Node.Tests.Crypto;

/// <summary>
/// <see cref="KnownSigners"/>: true exactly when recovery gives the expected signer, with real keys; false for every
/// altered or malformed signature, before its table is built, and for signers outside its set.
/// </summary>
public sealed class KnownSignersTests : IDisposable
{
    private static readonly byte[] Order = Convert.FromHexString("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141");

    private readonly NodeKey _alice = NodeKey.Generate(new byte[32]);
    private readonly NodeKey _bob = NodeKey.Generate(new byte[32]);
    private readonly NodeKey _stranger = NodeKey.Generate(new byte[32]);

    [Fact]
    public async Task Over_2000_digests_it_agrees_with_recovery_and_refuses_another_signers_address()
    {
        KnownSigners signers = await Learnt(_alice, _bob);
        int agreed = 0;
        foreach (byte[] digest in Digests(2000))
        {
            byte[] signature = Sign(_alice, digest);
            bool recovered = EthSignature.TryRecover(digest, signature, out Address signer, out _) && signer == _alice.Address;
            Assert.True(recovered);
            Assert.Equal(recovered, signers.TryVerify(digest, signature, _alice.Address));
            Assert.False(signers.TryVerify(digest, signature, _bob.Address));
            agreed++;
        }

        Assert.True(agreed >= 2000);
    }

    [Fact]
    public async Task Every_altered_or_malformed_signature_is_refused_and_recovery_refuses_it_too()
    {
        KnownSigners signers = await Learnt(_alice);
        byte[] digest = RandomNumberGenerator.GetBytes(32);
        byte[] good = Sign(_alice, digest);
        Assert.True(signers.TryVerify(digest, good, _alice.Address));

        foreach ((string what, byte[] checkedDigest, byte[] signature) in Forgeries(digest, good))
        {
            Assert.False(signers.TryVerify(checkedDigest, signature, _alice.Address), what);
            bool recovered = EthSignature.TryRecover(checkedDigest, signature, out Address signer, out _);
            Assert.False(recovered && signer == _alice.Address, what);
        }
    }

    [Fact]
    public void Before_the_table_is_built_it_answers_false_so_the_caller_recovers()
    {
        var held = new HeldTaskScheduler();
        var signers = new KnownSigners([_alice.Address], held);
        byte[] digest = RandomNumberGenerator.GetBytes(32);
        byte[] signature = Sign(_alice, digest);

        Assert.False(signers.TryVerify(digest, signature, _alice.Address));
        Assert.True(signers.Learn(_alice.Address, Recover(digest, signature)));
        Assert.False(signers.Learn(_alice.Address, Recover(digest, signature)));
        Assert.False(signers.IsLearnt(_alice.Address));
        Assert.False(signers.TryVerify(digest, signature, _alice.Address));

        Assert.Equal(1, held.RunAll());
        Assert.True(signers.IsLearnt(_alice.Address));
        Assert.True(signers.TryVerify(digest, signature, _alice.Address));
    }

    [Fact]
    public async Task A_failed_build_is_forgotten_and_the_next_learn_builds_again()
    {
        var held = new HeldTaskScheduler();
        int attempts = 0;
        var signers = new KnownSigners([_alice.Address], held, key =>
            ++attempts == 1 ? throw new OutOfMemoryException("no room for the table") : new FixedBaseTable(in key));
        byte[] digest = RandomNumberGenerator.GetBytes(32);
        byte[] signature = Sign(_alice, digest);

        Assert.True(signers.Learn(_alice.Address, Recover(digest, signature)));
        Task failed = signers.WhenBuilt(_alice.Address);
        Assert.Equal(1, held.RunAll());
        await Assert.ThrowsAsync<OutOfMemoryException>(() => failed);
        Assert.False(signers.IsLearnt(_alice.Address));
        Assert.False(signers.TryVerify(digest, signature, _alice.Address));

        Assert.True(signers.Learn(_alice.Address, Recover(digest, signature)));
        Assert.Equal(1, held.RunAll());
        Assert.Equal(2, attempts);
        Assert.True(signers.IsLearnt(_alice.Address));
        Assert.True(signers.TryVerify(digest, signature, _alice.Address));
    }

    [Fact]
    public void An_address_outside_the_set_is_never_learnt()
    {
        var held = new HeldTaskScheduler();
        var signers = new KnownSigners([_alice.Address], held);
        byte[] digest = RandomNumberGenerator.GetBytes(32);
        byte[] signature = Sign(_stranger, digest);

        Assert.False(signers.Learn(_stranger.Address, Recover(digest, signature)));
        Assert.Equal(0, held.Held);
        Assert.False(signers.IsLearnt(_stranger.Address));
        Assert.False(signers.TryVerify(digest, signature, _stranger.Address));
        Assert.True(signers.WhenBuilt(_stranger.Address).IsCompleted);
    }

    [Fact]
    public void A_key_that_is_not_the_address_is_refused()
    {
        var signers = new KnownSigners([_alice.Address], new HeldTaskScheduler());
        byte[] digest = RandomNumberGenerator.GetBytes(32);
        Assert.Throws<ArgumentException>(() => signers.Learn(_alice.Address, Recover(digest, Sign(_bob, digest))));
        Assert.False(signers.IsLearnt(_alice.Address));
    }

    [Fact]
    public async Task Threads_verifying_while_the_table_is_built_get_only_correct_answers()
    {
        var signers = new KnownSigners([_alice.Address]);
        var cases = new List<(byte[] Digest, byte[] Signature, bool Valid)>();
        foreach (byte[] digest in Digests(40))
        {
            byte[] signature = Sign(_alice, digest);
            cases.Add((digest, signature, true));
            byte[] flipped = (byte[])signature.Clone();
            flipped[64] ^= 27 ^ 28;
            cases.Add((digest, flipped, false));
            cases.Add((digest, Sign(_stranger, digest), false));
        }

        ECPubKey key = Recover(cases[0].Digest, cases[0].Signature);
        using var start = new Barrier(6);
        int learnt = 0;
        Task<int>[] verifiers = Enumerable.Range(0, 4).Select(_ => Dedicated(() =>
        {
            start.SignalAndWait();
            int wrong = 0;
            bool seenReady = false;
            for (int round = 0; round < 30 || !seenReady; round++)
            {
                bool ready = signers.IsLearnt(_alice.Address);
                foreach ((byte[] digest, byte[] signature, bool valid) in cases)
                {
                    bool accepted = signers.TryVerify(digest, signature, _alice.Address);

                    // Before the table: false for everything. Once it is published: exactly the valid ones.
                    if ((accepted && !valid) || (ready && accepted != valid))
                        wrong++;
                }

                seenReady |= ready;
            }

            return wrong;
        })).ToArray();
        Task<int>[] learners = Enumerable.Range(0, 2).Select(_ => Dedicated(() =>
        {
            start.SignalAndWait();
            return signers.Learn(_alice.Address, key) ? Interlocked.Increment(ref learnt) : 0;
        })).ToArray();

        await Task.WhenAll(learners);
        await signers.WhenBuilt(_alice.Address);
        Assert.Equal(new[] { 0, 0, 0, 0 }, await Task.WhenAll(verifiers));
        Assert.Equal(1, learnt);
    }

    /// <summary>A thread of its own, so that threads blocked at the barrier do not wait on the thread pool.</summary>
    private static Task<int> Dedicated(Func<int> work) =>
        Task.Factory.StartNew(work, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    public void Dispose()
    {
        _alice.Dispose();
        _bob.Dispose();
        _stranger.Dispose();
    }

    /// <summary>Altered forms of a good signature, each with the digest it is checked against.</summary>
    private IEnumerable<(string What, byte[] Digest, byte[] Signature)> Forgeries(byte[] digest, byte[] good)
    {
        byte[] Altered(Action<byte[]> change)
        {
            byte[] copy = (byte[])good.Clone();
            change(copy);
            return copy;
        }

        yield return ("v flipped", digest, Altered(s => s[64] ^= 27 ^ 28));

        // The malleable twin: (r, n − s) with the other v is the same key's signature to libsecp256k1; EIP-2 refuses it.
        var s = new Scalar(good.AsSpan(32, 32));
        byte[] twin = Altered(t => t[64] ^= 27 ^ 28);
        s.Negate().WriteToSpan(twin.AsSpan(32, 32));
        Assert.True(SecpRecoverableECDSASignature.TryCreateFromCompact(twin.AsSpan(0, 64), twin[64] - 27, out SecpRecoverableECDSASignature? malleable));
        Assert.True(ECPubKey.TryRecover(Context.Instance, malleable!, digest, out ECPubKey? twinKey));
        Assert.Equal(_alice.Address, EthSignature.AddressOf(twinKey!));
        Assert.False(EthSignature.TryRecover(digest, twin, out _, out SignatureError twinError));
        Assert.Equal(SignatureError.HighS, twinError);
        yield return ("high-s twin", digest, twin);

        yield return ("r = 0", digest, Altered(t => t.AsSpan(0, 32).Clear()));
        yield return ("s = 0", digest, Altered(t => t.AsSpan(32, 32).Clear()));
        yield return ("r = n", digest, Altered(t => Order.CopyTo(t, 0)));
        yield return ("r = 2^256 - 1", digest, Altered(t => t.AsSpan(0, 32).Fill(0xFF)));
        yield return ("s = n", digest, Altered(t => Order.CopyTo(t, 32)));
        yield return ("r above n", digest, Altered(t => t.AsSpan(0, 16).Fill(0xFF)));
        yield return ("r is no point's x", digest, Altered(t => NotAnX().CopyTo(t, 0)));
        yield return ("64 bytes", digest, good[..64]);
        yield return ("66 bytes", digest, [.. good, 0]);
        yield return ("empty", digest, []);
        yield return ("v = 0", digest, Altered(t => t[64] = 0));
        yield return ("v = 1", digest, Altered(t => t[64] = 1));
        yield return ("v = 29", digest, Altered(t => t[64] = 29));
        yield return ("r changed", digest, Altered(t => t[10] ^= 1));
        yield return ("s changed", digest, Altered(t => t[40] ^= 1));
        for (int bit = 0; bit < 256; bit += 37)
        {
            byte[] other = (byte[])digest.Clone();
            other[bit / 8] ^= (byte)(1 << (bit % 8));
            yield return ($"digest bit {bit} flipped", other, good);
        }

        yield return ("31-byte digest", digest[..31], good);
        yield return ("an unknown key's signature", digest, Sign(_stranger, digest));
    }

    /// <summary>The smallest x (as 32 bytes) for which y² = x³ + 7 has no solution.</summary>
    private static byte[] NotAnX()
    {
        byte[] x = new byte[32];
        for (byte candidate = 1; ; candidate++)
        {
            x[31] = candidate;
            if (!GE.TryCreateXOVariable(new FE(x), false, out _))
                return x;
        }
    }

    private static async Task<KnownSigners> Learnt(params NodeKey[] keys)
    {
        var signers = new KnownSigners(keys.Select(k => k.Address));
        foreach (NodeKey key in keys)
        {
            byte[] digest = RandomNumberGenerator.GetBytes(32);
            Assert.True(signers.Learn(key.Address, Recover(digest, Sign(key, digest))));
            await signers.WhenBuilt(key.Address);
            Assert.True(signers.IsLearnt(key.Address));
        }

        return signers;
    }

    private static ECPubKey Recover(byte[] digest, byte[] signature)
    {
        Assert.True(EthSignature.TryRecover(digest, signature, out _, out ECPubKey? key, out SignatureError error), error.ToString());
        return key;
    }

    private static byte[] Sign(NodeKey key, byte[] digest)
    {
        byte[] signature = new byte[EthSignature.Size];
        key.Sign(digest, signature);
        return signature;
    }

    /// <summary>Random digests, a quarter of them ≥ n (read mod n by both checks), plus 0 and 2²⁵⁶ − 1.</summary>
    private static IEnumerable<byte[]> Digests(int random)
    {
        yield return new byte[32];
        yield return Enumerable.Repeat((byte)0xFF, 32).ToArray();
        for (int i = 0; i < random; i++)
        {
            byte[] digest = RandomNumberGenerator.GetBytes(32);
            if (i % 4 == 0)
                digest.AsSpan(0, 16).Fill(0xFF);
            yield return digest;
        }
    }
}
