using System.Security.Cryptography;
using InfraMind.Node.Crypto;
using NBitcoin.Secp256k1;

namespace InfraMind.Node.Tests.Crypto;

/// <summary>
/// <see cref="NodeKey.SignWithPrecomputedNonce"/> and its <see cref="NoncePool"/>: every signature valid and in
/// Ethereum's form, no nonce used twice, the inline path, the refiller's priority and its end on Dispose.
/// </summary>
public class PrecomputedNonceTests
{
    // The curve order n and n / 2, big-endian.
    private static readonly byte[] Order = Convert.FromHexString("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141");
    private static readonly byte[] HalfOrder = Convert.FromHexString("7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0");

    /// <summary>2,000 random digests, a quarter of them ≥ n, plus 0, n − 1, n, n + 1 and 2²⁵⁶ − 1.</summary>
    private static List<byte[]> Digests(int random = 2000)
    {
        var digests = new List<byte[]>
        {
            new byte[32],
            Enumerable.Repeat((byte)0xFF, 32).ToArray(),
            Add(Order, -1),
            Order,
            Add(Order, 1),
        };
        for (int i = 0; i < random; i++)
        {
            byte[] digest = RandomNumberGenerator.GetBytes(32);
            if (i % 4 == 0)
                digest.AsSpan(0, 16).Fill(0xFF); // above n's top half (…FFFE): a digest ≥ n
            digests.Add(digest);
        }

        return digests;
    }

    [Fact]
    public void Pooled_signatures_recover_to_the_key_are_low_s_and_carry_v_27_or_28()
    {
        using NodeKey key = NodeKey.Generate(new byte[32]);
        key.StartNoncePool();
        var seenV = new HashSet<byte>();
        var signature = new byte[EthSignature.Size];
        foreach (byte[] digest in Digests())
        {
            key.SignWithPrecomputedNonce(digest, signature);
            AssertEthereumForm(signature);
            Assert.True(EthSignature.TryRecover(digest, signature, out Address signer, out SignatureError error), $"{Convert.ToHexString(digest)}: {error}");
            Assert.Equal(key.Address, signer);
            seenV.Add(signature[64]);
        }

        Assert.Equal(new HashSet<byte> { 27, 28 }, seenV); // both parities, so the low-s flip of v is exercised
    }

    /// <summary>
    /// The arithmetic against libsecp256k1's own: precomputing from the very nonce RFC 6979 picks (HMAC-DRBG seeded
    /// with key ‖ digest) must give <see cref="NodeKey.Sign"/>'s bytes exactly, r, low s and v.
    /// </summary>
    [Fact]
    public void Precomputing_the_RFC_6979_nonce_reproduces_the_deterministic_signature_byte_for_byte()
    {
        byte[] secret = RandomNumberGenerator.GetBytes(32);
        Assert.True(NodeKey.TryCreate(secret, out NodeKey? createdKey));
        using NodeKey key = createdKey!;
        Assert.True(ECPrivKey.TryCreate(secret, out ECPrivKey? createdEcKey));
        using ECPrivKey ecKey = createdEcKey!; // the same secret, for its scalar

        var expected = new byte[EthSignature.Size];
        var actual = new byte[EthSignature.Size];
        var seed = new byte[64];
        var candidate = new byte[32];
        int flipped = 0;
        foreach (byte[] digest in Digests(random: 300))
        {
            key.Sign(digest, expected);

            secret.CopyTo(seed);
            digest.CopyTo(seed, 32);
            using var drbg = new RFC6979HMACSHA256();
            drbg.Initialize(seed);
            drbg.Generate(candidate);
            var k = new Scalar(candidate, out int overflow);
            Assert.Equal(0, overflow);
            PrecomputedNonce nonce = PrecomputedNonce.TryCreate(in k)!;
            Assert.True(nonce.TrySign(in ecKey.sec, digest, actual));

            Assert.Equal(Convert.ToHexString(expected), Convert.ToHexString(actual));
            if (ProducedHighS(in k, ecKey.sec, digest))
                flipped++;
        }

        Assert.True(flipped > 0, "no signature needed the low-s flip; the test would not cover it");
    }

    [Fact]
    public void No_two_signatures_share_r_one_signer_at_a_time()
    {
        using NodeKey key = NodeKey.Generate(new byte[32]);
        key.StartNoncePool();
        var rs = new HashSet<string>(StringComparer.Ordinal);
        var signature = new byte[EthSignature.Size];
        byte[] digest = new byte[32]; // the same digest every time: only the nonce can make r differ
        for (int i = 0; i < 2000; i++)
        {
            key.SignWithPrecomputedNonce(digest, signature);
            Assert.True(rs.Add(Convert.ToHexString(signature, 0, 32)), $"r repeated at signature {i}");
        }
    }

    [Fact]
    public void No_two_signatures_share_r_with_four_threads_signing_at_once()
    {
        using NodeKey key = NodeKey.Generate(new byte[32]);
        key.StartNoncePool();
        key.Nonces.FillNow(); // start full, so the threads race for pooled nonces as well as inline ones
        const int Threads = 4;
        const int PerThread = 600;
        var rs = new string[Threads * PerThread];
        var failures = new System.Collections.Concurrent.ConcurrentQueue<string>();
        using var start = new Barrier(Threads);
        var threads = Enumerable.Range(0, Threads).Select(t => new Thread(() =>
        {
            var signature = new byte[EthSignature.Size];
            var digest = new byte[32];
            digest[0] = (byte)t;
            start.SignalAndWait();
            for (int i = 0; i < PerThread; i++)
            {
                key.SignWithPrecomputedNonce(digest, signature);
                if (!EthSignature.Verify(digest, signature, key.Address))
                    failures.Enqueue($"thread {t} signature {i} does not verify");
                rs[(t * PerThread) + i] = Convert.ToHexString(signature, 0, 32);
            }
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());

        Assert.Empty(failures);
        Assert.Equal(rs.Length, rs.Distinct(StringComparer.Ordinal).Count());
    }

    [Fact]
    public void Without_the_refiller_every_signature_computes_its_nonce_inline_and_is_valid()
    {
        using NodeKey key = NodeKey.Generate(new byte[32]);
        var signature = new byte[EthSignature.Size];
        var rs = new HashSet<string>(StringComparer.Ordinal);
        foreach (byte[] digest in Digests(random: 100))
        {
            key.SignWithPrecomputedNonce(digest, signature);
            AssertEthereumForm(signature);
            Assert.True(EthSignature.Verify(digest, signature, key.Address));
            Assert.True(rs.Add(Convert.ToHexString(signature, 0, 32)));
        }

        Assert.Null(key.Nonces.Refiller);
        Assert.Equal(0, key.Nonces.Count);
    }

    [Fact]
    public void The_refiller_fills_the_pool_and_tops_it_up_after_it_falls_below_half()
    {
        using NodeKey key = NodeKey.Generate(new byte[32]);
        key.StartNoncePool();
        key.StartNoncePool(); // idempotent: still one thread
        NoncePool pool = key.Nonces;
        WaitFor(() => pool.Count == pool.Capacity, "the pool to fill");

        var signature = new byte[EthSignature.Size];
        for (int i = 0; i < (pool.Capacity / 2) + 1; i++)
            key.SignWithPrecomputedNonce(new byte[32], signature);
        Assert.True(pool.Count < pool.Capacity);
        WaitFor(() => pool.Count == pool.Capacity, "the pool to be topped up");
    }

    [Fact]
    public void Dispose_stops_the_refiller_and_clears_every_pooled_nonce()
    {
        NodeKey key = NodeKey.Generate(new byte[32]);
        key.StartNoncePool();
        NoncePool pool = key.Nonces;
        WaitFor(() => pool.Count == pool.Capacity, "the pool to fill");
        Thread refiller = pool.Refiller!;
        PrecomputedNonce[] pooled = pool.Peek();
        Assert.Equal(pool.Capacity, pooled.Length);
        Assert.DoesNotContain(pooled, n => n.IsCleared);

        key.Dispose();

        Assert.False(refiller.IsAlive);
        Assert.Equal(0, pool.Count);
        Assert.All(pooled, n => Assert.True(n.IsCleared));
        Assert.Throws<ObjectDisposedException>(() => key.SignWithPrecomputedNonce(new byte[32], new byte[EthSignature.Size]));
    }

    /// <summary>SCHED_IDLE (policy 5, field 41 of /proc/self/task/TID/stat): refilling takes only CPU no one else wants.</summary>
    [Fact]
    public void The_refiller_runs_at_idle_priority()
    {
        using NodeKey key = NodeKey.Generate(new byte[32]);
        key.StartNoncePool();
        WaitFor(() => key.Nonces.Count == key.Nonces.Capacity, "the pool to fill");

        // This key's refiller only: other tests start refillers of their own, which may not have run yet.
        string task = $"/proc/self/task/{key.Nonces.RefillerThreadId}";
        Assert.Equal("nonce refiller", File.ReadAllText(Path.Combine(task, "comm")).Trim());
        Assert.Equal(5, SchedulingPolicy(File.ReadAllText(Path.Combine(task, "stat"))));
    }

    private static int SchedulingPolicy(string stat)
    {
        // Fields after the ")" that closes comm start at field 3; policy is field 41.
        string[] fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return int.Parse(fields[41 - 3], System.Globalization.CultureInfo.InvariantCulture);
    }

    private static void AssertEthereumForm(byte[] signature)
    {
        Assert.Equal(EthSignature.Size, signature.Length);
        Assert.True(signature[64] is 27 or 28, $"v = {signature[64]}");
        Assert.True(signature.AsSpan(0, 32).SequenceCompareTo(Order) < 0 && signature.AsSpan(0, 32).ContainsAnyExcept((byte)0), "r out of range");
        Assert.True(signature.AsSpan(32, 32).SequenceCompareTo(HalfOrder) <= 0, "s is high");
        Assert.True(signature.AsSpan(32, 32).ContainsAnyExcept((byte)0), "s is zero");
    }

    private static bool ProducedHighS(in Scalar k, in Scalar secret, byte[] digest)
    {
        Span<byte> x = stackalloc byte[32];
        GE point = Context.Instance.EcMultGenContext.MultGen(in k).ToGroupElement();
        point.x.Normalize().WriteToSpan(x);
        var r = new Scalar(x, out _);
        Scalar s = k.Inverse().Multiply(r.Multiply(in secret).Add(new Scalar(digest, out _)));
        return s.IsHigh;
    }

    private static byte[] Add(byte[] bigEndian, int delta)
    {
        var value = new System.Numerics.BigInteger(bigEndian, isUnsigned: true, isBigEndian: true) + delta;
        byte[] bytes = value.ToByteArray(isUnsigned: true, isBigEndian: true);
        return [.. new byte[32 - bytes.Length], .. bytes];
    }

    private static void WaitFor(Func<bool> condition, string what)
    {
        // The refiller runs at idle priority: under a busy parallel test run it gets little CPU, so wait generously.
        DateTime deadline = DateTime.UtcNow.AddSeconds(60);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting for {what}");
            Thread.Sleep(10);
        }
    }
}
