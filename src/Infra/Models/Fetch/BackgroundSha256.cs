using System.Security.Cryptography;
using System.Threading.Channels;
using InfraMind.Node.Crypto;
using InfraMind.Node.Models.Content;

namespace InfraMind.Node.Models.Fetch;

/// <summary>
/// A SHA-256 that runs on a thread of its own (<see cref="DedicatedWorker{T}"/>), fed with chunks of its own. The
/// producer rents a chunk (<see cref="RentAsync"/>), fills it, and posts it (<see cref="Post"/>); the hash thread
/// appends chunks in the order posted and gives each back to the free list. A fixed number of chunks bounds memory
/// and makes a slow hash slow the producer down; they are mapped for this hash alone and unmapped at its dispose
/// (<see cref="MappedChunk"/>), so a finished fetch holds no memory.
/// </summary>
internal sealed class BackgroundSha256 : IAsyncDisposable
{
    private readonly IncrementalHash _sha256 = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private readonly MappedChunk[] _chunks;
    private readonly Channel<Memory<byte>> _free = Channel.CreateUnbounded<Memory<byte>>(new UnboundedChannelOptions { SingleReader = true });
    private readonly DedicatedWorker<(Memory<byte> Chunk, int Count)> _worker;
    private bool _completed;
    private bool _disposed;
    private long _bytes;

    /// <param name="chunks">How many chunks may be filled, queued or hashed at once.</param>
    /// <param name="chunkBytes">The size of each chunk.</param>
    public BackgroundSha256(int chunks, int chunkBytes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(chunks, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(chunkBytes, 1);
        _chunks = new MappedChunk[chunks];
        try
        {
            for (int i = 0; i < chunks; i++)
            {
                _chunks[i] = new MappedChunk(chunkBytes);
                _free.Writer.TryWrite(_chunks[i].Memory);
            }
        }
        catch
        {
            // A mapping the kernel refused must not leak the ones made before it.
            foreach (MappedChunk? made in _chunks)
                ((IDisposable?)made)?.Dispose();
            _sha256.Dispose();
            throw;
        }

        _worker = new DedicatedWorker<(Memory<byte>, int)>(chunks, Hash);
    }

    /// <summary>Bytes posted so far.</summary>
    public long Bytes => _bytes;

    /// <summary>A free chunk (the size asked for at construction), to fill and <see cref="Post"/>.</summary>
    public ValueTask<Memory<byte>> RentAsync(CancellationToken cancellationToken) => _free.Reader.ReadAsync(cancellationToken);

    /// <summary>Queues <paramref name="chunk"/>[0..count) for the hash; the chunk is the hasher's until it is free again.</summary>
    public void Post(Memory<byte> chunk, int count)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_completed)
            ThrowHelper.ThrowRuntime("BackgroundSha256: a chunk was posted after the hash was finished");
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, chunk.Length);
        _bytes += count;
        _worker.Post((chunk, count));
    }

    /// <summary>Waits until every posted chunk is hashed; returns the sha256 of all of them, in the order posted.</summary>
    public async Task<Hash32> FinishAsync()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_completed)
            ThrowHelper.ThrowRuntime("BackgroundSha256: the hash was already finished");
        _completed = true;
        await _worker.CompleteAsync().ConfigureAwait(false);
        Hash32 digest = default;
        _sha256.GetHashAndReset(digest);
        return digest;
    }

    /// <summary>Stops the hash thread, waits for it (no chunk is read after this returns) and unmaps the chunks.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_disposed)
            return;
        _disposed = true;
        await _worker.DisposeAsync().ConfigureAwait(false);
        foreach (MappedChunk chunk in _chunks)
            ((IDisposable)chunk).Dispose();
        _sha256.Dispose();
    }

    private void Hash((Memory<byte> Chunk, int Count) posted)
    {
        try
        {
            _sha256.AppendData(posted.Chunk.Span[..posted.Count]);
        }
        catch (CryptographicException e)
        {
            // A producer waiting for a free chunk must not wait forever.
            _free.Writer.TryComplete(e);
            throw;
        }

        _free.Writer.TryWrite(posted.Chunk);
    }
}
