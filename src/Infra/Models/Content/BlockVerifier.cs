using System.Threading.Channels;

namespace InfraMind.Node.Models.Content;

/// <summary>
/// Checks raw CAR blocks against their CIDs on a thread of its own, over a fixed set of block buffers: the reading
/// thread rents a buffer (<see cref="RentAsync"/>) to read the next block into, and posts a block it has taken
/// (<see cref="Post"/>); this thread hashes it and frees the buffer. A fixed number of buffers bounds memory and
/// makes a slow hash slow the reader down.
/// </summary>
/// <remarks>
/// Why: the extraction was read + copy + sha256 on one thread and the file write on another, so the hash (≈ 0.19 s
/// per 256 MiB with SHA-NI) sat in series with the stream read. Here the reading thread parses, copies and writes,
/// and the hash has a core to itself, as in <c>HttpBundleFetcher</c>/<c>BackgroundSha256</c>. A dedicated thread,
/// not a pool work item, so the reads' continuations never queue behind it on a 2-core node.
/// The bytes of a posted block may reach the partial output before they are checked: the caller must call
/// <see cref="FinishAsync"/> (which throws <see cref="BundleError.BlockHashMismatch"/> for the first block that
/// failed) before the output is accepted, and discard it on any failure.
/// </remarks>
internal sealed class BlockVerifier : IAsyncDisposable
{
    private readonly Channel<byte[]> _free = Channel.CreateUnbounded<byte[]>(new UnboundedChannelOptions { SingleReader = true });
    private readonly int _buffers;
    private readonly DedicatedWorker<Job> _worker;
    private int _created;
    private bool _completed;
    private bool _disposed;
    private volatile string? _failure;

    /// <param name="buffers">How many block buffers may be filled, queued or hashed at once.</param>
    public BlockVerifier(int buffers)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(buffers, 1);
        _buffers = buffers;
        _worker = new DedicatedWorker<Job>(buffers, Check);
    }

    /// <summary>Blocks checked and found good so far.</summary>
    public int Verified { get; private set; }

    /// <summary>
    /// A buffer of at least <paramref name="minLength"/> bytes, free to fill. Throws the first mismatch found so far,
    /// so a forged CAR stops the extraction early.
    /// </summary>
    public ValueTask<byte[]> RentAsync(int minLength, CancellationToken cancellationToken)
    {
        ThrowIfFailed();
        if (_free.Reader.TryRead(out byte[]? buffer))
            return new ValueTask<byte[]>(Fit(buffer, minLength));
        if (_created < _buffers)
        {
            _created++;
            return new ValueTask<byte[]>(new byte[minLength]);
        }

        return WaitAsync(this, minLength, cancellationToken);

        static async ValueTask<byte[]> WaitAsync(BlockVerifier verifier, int minLength, CancellationToken cancellationToken)
        {
            byte[] buffer = await verifier._free.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            verifier.ThrowIfFailed();
            return Fit(buffer, minLength);
        }
    }

    /// <summary>
    /// Queues <paramref name="buffer"/>[offset..offset+count) to be checked against <paramref name="cid"/>
    /// (<paramref name="index"/>: its place in the CAR, for the message). The buffer is the verifier's from now on; the
    /// caller may still read it until its next <see cref="RentAsync"/>.
    /// </summary>
    public void Post(Cid cid, int index, byte[] buffer, int offset, int count)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_completed)
            ThrowHelper.ThrowRuntime("BlockVerifier: a block was posted after the check was finished");
        ArgumentNullException.ThrowIfNull(cid);
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, buffer.Length - offset);
        _worker.Post(new Job(cid, index, buffer, offset, count));
    }

    /// <summary>Waits until every posted block is checked; throws <see cref="BundleError.BlockHashMismatch"/> for the first bad one.</summary>
    public async Task FinishAsync()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_completed)
            ThrowHelper.ThrowRuntime("BlockVerifier: the check was already finished");
        _completed = true;
        await _worker.CompleteAsync().ConfigureAwait(false);
        ThrowIfFailed();
    }

    /// <summary>Stops the thread and waits for it: no buffer is read after this returns.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_disposed)
            return;
        _disposed = true;
        await _worker.DisposeAsync().ConfigureAwait(false);
    }

    // A buffer smaller than asked for (the blocks grew) is dropped for a bigger one; the count of buffers stays.
    private static byte[] Fit(byte[] buffer, int minLength) => buffer.Length >= minLength ? buffer : new byte[minLength];

    private void ThrowIfFailed()
    {
        if (_failure is string failure)
            BundleThrow.Throw(BundleError.BlockHashMismatch, failure);
    }

    private void Check(Job job)
    {
        // After the first mismatch the rest is moot: the buffers still go back so the reader never hangs.
        if (_failure is null)
        {
            if (job.Cid.Verifies(job.Buffer.AsSpan(job.Offset, job.Count)))
                Verified++;
            else
                _failure = $"block {job.Cid} (#{job.Index} in the CAR, {job.Count} bytes) does not hash to its CID; the gateway sent corrupt or forged data; fetch from another gateway";
        }

        _free.Writer.TryWrite(job.Buffer);
    }

    private readonly record struct Job(Cid Cid, int Index, byte[] Buffer, int Offset, int Count);
}
