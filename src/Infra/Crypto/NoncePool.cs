using System.Buffers.Binary;
using InfraMind.Node.Errors;
using InfraMind.Node.Interop;
using NBitcoin.Secp256k1;

namespace InfraMind.Node.Crypto;

/// <summary>
/// One-use signing nonces of one key, computed ahead of time (<see cref="PrecomputedNonce"/>) so that a receipt
/// signature does not pay for k·G and k⁻¹. A bounded pool, refilled by one background thread at idle priority when
/// it falls below half; a full pool is left alone. A taker never waits for the refiller: when the pool is empty it
/// computes a nonce itself, at the cost of a signature today.
/// </summary>
internal sealed class NoncePool : IDisposable
{
    public const int DefaultCapacity = 64;

    // Seed of one nonce's generator: private key ‖ 32 bytes from the kernel ‖ counter (big-endian).
    private const int SeedSize = NodeKey.PrivateKeySize + 32 + sizeof(long);

    private readonly ECPrivKey _key;
    private readonly PrecomputedNonce?[] _ready;
    private readonly int _lowWater;
    private readonly object _gate = new();
    private int _count;
    private Thread? _refiller;
    private bool _disposed;

    // Starts at the clock, not at 0, so a restarted node does not reuse its previous run's counter values either.
    private long _counter = DateTime.UtcNow.Ticks;

    /// <param name="key">The key the nonces are for; owned by the caller, who disposes this pool first.</param>
    public NoncePool(ECPrivKey key, int capacity = DefaultCapacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _key = key;
        _ready = new PrecomputedNonce?[capacity];
        _lowWater = (capacity + 1) / 2;
    }

    public int Capacity => _ready.Length;

    /// <summary>How many nonces are ready now.</summary>
    public int Count
    {
        get
        {
            lock (_gate)
                return _count;
        }
    }

    /// <summary>The refiller, once started; tests watch it stop.</summary>
    internal Thread? Refiller => _refiller;

    /// <summary>The refiller's kernel thread id once it runs (0 before): tests read its scheduling policy from /proc.</summary>
    internal int RefillerThreadId { get; private set; }

    /// <summary>Starts the background refiller; it fills the pool at once, then whenever it falls below half. Idempotent.</summary>
    public void StartRefilling()
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_refiller is not null)
                return;
            _refiller = new Thread(RefillUntilDisposed)
            {
                IsBackground = true,
                Name = "nonce refiller",
            };
            _refiller.Start();
        }
    }

    /// <summary>
    /// A nonce that no one else will ever get: out of the pool when one is ready, else computed here. The caller
    /// signs once with it and clears it.
    /// </summary>
    public PrecomputedNonce Take()
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_count > 0)
            {
                PrecomputedNonce nonce = _ready[--_count]!;
                _ready[_count] = null;
                if (_count < _lowWater)
                    Monitor.Pulse(_gate); // wakes the refiller if it waits; one that is filling sees the count itself
                return nonce;
            }
        }

        return Compute();
    }

    /// <summary>Fills the pool on the calling thread: benchmarks and tests that want it full without the refiller.</summary>
    internal void FillNow()
    {
        while (HasRoom())
            TryAdd(Compute());
    }

    /// <summary>The nonces in the pool, still in it: for tests that check Dispose clears them.</summary>
    internal PrecomputedNonce[] Peek()
    {
        lock (_gate)
            return _ready[.._count].Select(n => n!).ToArray();
    }

    /// <summary>Stops the refiller (waiting for the nonce it may be computing) and clears every pooled nonce.</summary>
    public void Dispose()
    {
        Thread? refiller;
        lock (_gate)
        {
            if (_disposed)
                return;
            _disposed = true;
            for (int i = 0; i < _count; i++)
            {
                _ready[i]!.Clear();
                _ready[i] = null;
            }

            _count = 0;
            refiller = _refiller;
            Monitor.PulseAll(_gate);
        }

        // The key is disposed after this returns, so the refiller must be done with it.
        refiller?.Join();
    }

    private void RefillUntilDisposed()
    {
        RefillerThreadId = Libc.GetTid();
        try
        {
            while (WaitUntilBelowLowWater())
            {
                // Thread.Priority is not applied on Linux (and setting it raced with this: the starting thread could
                // reset the policy after the refiller had lowered it); SCHED_IDLE is, and any thread may lower itself
                // to it. Set before every round, so nothing that resets it lasts. A refusal (seccomp) leaves normal priority.
                _ = Libc.SchedSetscheduler(0, Libc.SchedIdle, 0);
                while (HasRoom())
                    TryAdd(Compute());
            }
        }
        catch (InfraException)
        {
            // /dev/urandom is unreadable: stop refilling. Takers compute their own nonces and report the error.
        }
    }

    private bool WaitUntilBelowLowWater()
    {
        lock (_gate)
        {
            while (!_disposed && _count >= _lowWater)
                Monitor.Wait(_gate);
            return !_disposed;
        }
    }

    private bool HasRoom()
    {
        lock (_gate)
            return !_disposed && _count < _ready.Length;
    }

    private void TryAdd(PrecomputedNonce nonce)
    {
        lock (_gate)
        {
            if (!_disposed && _count < _ready.Length)
            {
                _ready[_count++] = nonce;
                return;
            }
        }

        nonce.Clear();
    }

    /// <summary>
    /// A fresh nonce. k comes from HMAC-DRBG (RFC 6979's generator, as libsecp256k1 uses it) seeded with the private
    /// key, 32 new bytes from the kernel's CSPRNG and a counter that only goes up. Two nonces are equal only if all
    /// three seeds are (or HMAC-SHA256 fails): a kernel generator that repeats itself still meets a new counter, and
    /// the key in the seed keeps k secret from anyone who learns the kernel's bytes. A repeated k across two digests
    /// would give the private key away, which is also why each nonce is used once.
    /// </summary>
    private PrecomputedNonce Compute()
    {
        Span<byte> seed = stackalloc byte[SeedSize];
        Span<byte> candidate = stackalloc byte[32];
        try
        {
            _key.WriteToSpan(seed[..NodeKey.PrivateKeySize]);
            SystemEntropy.Fill(seed.Slice(NodeKey.PrivateKeySize, 32));
            BinaryPrimitives.WriteInt64BigEndian(seed[^sizeof(long)..], Interlocked.Increment(ref _counter));
            using var generator = new RFC6979HMACSHA256();
            generator.Initialize(seed);
            while (true)
            {
                // As in RFC 6979 3.2.h: a candidate that is zero or not below n is skipped, as is an unusable R.
                generator.Generate(candidate);
                var k = new Scalar(candidate, out int overflow);
                PrecomputedNonce? nonce = overflow == 0 && !k.IsZero ? PrecomputedNonce.TryCreate(in k) : null;
                Scalar.Clear(ref k);
                if (nonce is not null)
                    return nonce;
            }
        }
        finally
        {
            seed.Clear();
            candidate.Clear();
        }
    }
}
