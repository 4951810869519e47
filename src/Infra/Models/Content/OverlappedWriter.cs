using System.Threading.Channels;
using Microsoft.Win32.SafeHandles;

namespace InfraMind.Node.Models.Content;

/// <summary>
/// Writes buffers to files on a thread of its own, so the producer (reading and hashing) never waits for the disk,
/// over a fixed set of buffers: <see cref="RentAsync"/> waits when all are queued, which bounds memory and makes a
/// slow disk slow the producer down. Writes go to explicit offsets (<see cref="RandomAccess.Write(SafeFileHandle, ReadOnlySpan{byte}, long)"/>),
/// so their order does not matter. The first failed write is kept and rethrown by the next call; later writes are
/// skipped. Dispose waits for the thread, so no write is in flight once it returns (a failed bundle's files can
/// then be deleted).
/// </summary>
internal sealed class OverlappedWriter : IAsyncDisposable
{
    private readonly Channel<Job> _jobs = Channel.CreateUnbounded<Job>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
    private readonly Channel<byte[]> _free = Channel.CreateUnbounded<byte[]>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
    private readonly int _buffers;
    private readonly Task _worker;
    private int _created;
    private volatile Exception? _failure;

    /// <param name="buffers">How many buffers may be queued or in flight at once.</param>
    public OverlappedWriter(int buffers)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(buffers, 1);
        _buffers = buffers;
        _worker = Task.Run(WorkAsync);
    }

    /// <summary>A buffer of at least <paramref name="minLength"/> bytes, to fill and hand to <see cref="Enqueue"/>.</summary>
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

        static async ValueTask<byte[]> WaitAsync(OverlappedWriter writer, int minLength, CancellationToken cancellationToken)
        {
            byte[] buffer = await writer._free.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            writer.ThrowIfFailed();
            return Fit(buffer, minLength);
        }
    }

    /// <summary>Queues a write of <paramref name="buffer"/>[offset..offset+length] at <paramref name="fileOffset"/>; the buffer is the writer's until written.</summary>
    public void Enqueue(SafeFileHandle file, byte[] buffer, int offset, int length, long fileOffset)
    {
        ThrowIfFailed();
        if (!_jobs.Writer.TryWrite(new Job(file, buffer, offset, length, fileOffset, null)))
            ThrowHelper.ThrowRuntime("OverlappedWriter: a write was queued after dispose");
    }

    /// <summary>Waits until every queued write is on the file (in the page cache); rethrows a failed write.</summary>
    public async ValueTask DrainAsync(CancellationToken cancellationToken)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_jobs.Writer.TryWrite(new Job(null, null, 0, 0, 0, done)))
            ThrowHelper.ThrowRuntime("OverlappedWriter: drained after dispose");
        await done.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        ThrowIfFailed();
    }

    public async ValueTask DisposeAsync()
    {
        _jobs.Writer.TryComplete();
        await _worker.ConfigureAwait(false);
    }

    // A buffer smaller than asked for (the blocks grew) is dropped for a bigger one; the count of buffers stays.
    private static byte[] Fit(byte[] buffer, int minLength) => buffer.Length >= minLength ? buffer : new byte[minLength];

    private void ThrowIfFailed()
    {
        if (_failure is Exception failure)
            throw new IOException($"writing the bundle failed: {failure.Message}", failure);
    }

    private async Task WorkAsync()
    {
        await foreach (Job job in _jobs.Reader.ReadAllAsync().ConfigureAwait(false))
        {
            if (job.Done is TaskCompletionSource done)
            {
                done.TrySetResult();
                continue;
            }

            if (_failure is null)
            {
                try
                {
                    RandomAccess.Write(job.File!, job.Buffer.AsSpan(job.Offset, job.Length), job.FileOffset);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException or ObjectDisposedException)
                {
                    _failure = e;
                }
            }

            _free.Writer.TryWrite(job.Buffer!);
        }
    }

    private readonly record struct Job(SafeFileHandle? File, byte[]? Buffer, int Offset, int Length, long FileOffset, TaskCompletionSource? Done);
}
