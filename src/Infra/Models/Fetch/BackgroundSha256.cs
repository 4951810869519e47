using System.Buffers;
using System.Security.Cryptography;
using System.Threading.Channels;
using InfraMind.Node.Crypto;

namespace InfraMind.Node.Models.Fetch;

/// <summary>
/// A SHA-256 that runs on a thread of its own, fed with pooled chunks. The producer rents a chunk
/// (<see cref="RentAsync"/>), fills it, and posts it (<see cref="Post"/>); the hash thread appends chunks in the
/// order posted and gives each back to the free list. A fixed number of chunks bounds memory and makes a slow hash
/// slow the producer down.
/// </summary>
/// <remarks>
/// Why a dedicated thread and not a thread-pool stage: the hash is the one stage that needs a core to itself
/// (≈ 0.19 s per 256 MiB with SHA-NI against ≈ 0.27 s for 1 GB/s). As a pool work item it held one of the
/// two pool threads of a 2-core node for the whole download, so the socket-read continuations (and everything
/// else the node runs on the pool) queued behind it and the pipeline ran its stages one after another. Blocking
/// on a semaphore, it costs one wake-up per chunk and leaves the pool alone.
/// </remarks>
internal sealed class BackgroundSha256 : IAsyncDisposable
{
    private readonly IncrementalHash _sha256 = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private readonly byte[][] _chunks;
    private readonly Channel<byte[]> _free = Channel.CreateUnbounded<byte[]>(new UnboundedChannelOptions { SingleReader = true });

    // Single producer, single consumer: at most every chunk plus the end mark are queued at once, so the ring never
    // overflows. SemaphoreSlim's Release/Wait order the slot writes before the reads.
    private readonly (byte[]? Chunk, int Count)[] _ring;
    private readonly SemaphoreSlim _posted = new(0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _thread;
    private int _head;
    private int _tail;
    private bool _completed;
    private bool _disposed;
    private long _bytes;

    /// <param name="chunks">How many chunks may be filled, queued or hashed at once.</param>
    /// <param name="chunkBytes">The least size of each chunk.</param>
    public BackgroundSha256(int chunks, int chunkBytes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(chunks, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(chunkBytes, 1);
        _chunks = new byte[chunks][];
        for (int i = 0; i < chunks; i++)
        {
            _chunks[i] = ArrayPool<byte>.Shared.Rent(chunkBytes);
            _free.Writer.TryWrite(_chunks[i]);
        }

        _ring = new (byte[]?, int)[chunks + 1];
        _thread = Task.Factory.StartNew(Work, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
    }

    /// <summary>Bytes posted so far.</summary>
    public long Bytes => _bytes;

    /// <summary>A free chunk (at least the size asked for at construction), to fill and <see cref="Post"/>.</summary>
    public ValueTask<byte[]> RentAsync(CancellationToken cancellationToken) => _free.Reader.ReadAsync(cancellationToken);

    /// <summary>Queues <paramref name="chunk"/>[0..count) for the hash; the chunk is the hasher's until it is free again.</summary>
    public void Post(byte[] chunk, int count)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_completed)
            ThrowHelper.ThrowRuntime("BackgroundSha256: a chunk was posted after the hash was finished");
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, chunk.Length);
        _bytes += count;
        Enqueue(chunk, count);
    }

    /// <summary>Waits until every posted chunk is hashed; returns the sha256 of all of them, in the order posted.</summary>
    public async Task<Hash32> FinishAsync()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_completed)
            ThrowHelper.ThrowRuntime("BackgroundSha256: the hash was already finished");
        _completed = true;
        Enqueue(null, 0);
        await _thread.ConfigureAwait(false);
        Hash32 digest = default;
        _sha256.GetHashAndReset(digest);
        return digest;
    }

    /// <summary>Stops the hash thread, waits for it (no chunk is read after this returns) and gives the chunks back to the pool.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_disposed)
            return;
        _disposed = true;
        await _stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await _thread.ConfigureAwait(false);
        }
        catch (Exception e) when (e is CryptographicException or OperationCanceledException)
        {
            // The failure was already seen by FinishAsync or RentAsync, or nobody waits for the hash any more.
        }

        foreach (byte[] chunk in _chunks)
            ArrayPool<byte>.Shared.Return(chunk);
        _sha256.Dispose();
        _posted.Dispose();
        _stop.Dispose();
    }

    private void Enqueue(byte[]? chunk, int count)
    {
        _ring[_head] = (chunk, count);
        _head = (_head + 1) % _ring.Length;
        _posted.Release();
    }

    private void Work()
    {
        try
        {
            while (true)
            {
                _posted.Wait(_stop.Token);
                (byte[]? chunk, int count) = _ring[_tail];
                _tail = (_tail + 1) % _ring.Length;
                if (chunk is null)
                    return;
                _sha256.AppendData(chunk.AsSpan(0, count));
                _free.Writer.TryWrite(chunk);
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
            // Disposed before the end mark: the download failed or was cancelled.
        }
        catch (CryptographicException e)
        {
            // A producer waiting for a free chunk must not wait forever.
            _free.Writer.TryComplete(e);
            throw;
        }
    }
}
