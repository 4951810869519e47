namespace InfraMind.Node.Models.Content;

/// <summary>
/// One long-running thread that handles items in the order they were posted, for the hash stages of the bundle
/// paths (<see cref="BlockVerifier"/>, <c>BackgroundSha256</c>). Single producer, single consumer; the producer
/// bounds how many items are in flight (both callers hand out a fixed set of buffers), so the ring never overflows.
/// </summary>
/// <remarks>
/// A dedicated thread, not a thread-pool work item: the hash needs a core to itself, and as a pool item it held one
/// of the two pool threads of a 2-core node, so socket-read continuations queued behind it. Blocking on a semaphore
/// costs one wake-up per item and leaves the pool alone.
/// </remarks>
internal sealed class DedicatedWorker<T> : IAsyncDisposable
{
    private readonly Action<T> _handle;
    private readonly (T Item, bool End)[] _ring;
    private readonly SemaphoreSlim _posted = new(0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _thread;
    private int _head;
    private int _tail;
    private bool _disposed;

    /// <param name="capacity">The most items the producer can have posted and not yet handled.</param>
    /// <param name="handle">Runs on the worker's thread for each item; an exception ends the thread and faults <see cref="CompleteAsync"/>.</param>
    public DedicatedWorker(int capacity, Action<T> handle)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _handle = handle;
        _ring = new (T, bool)[capacity + 1]; // every item plus the end mark
        _thread = Task.Factory.StartNew(Work, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
    }

    /// <summary>Queues an item; SemaphoreSlim's Release/Wait order the slot write before the worker's read.</summary>
    public void Post(T item) => Enqueue(item, end: false);

    /// <summary>Waits until every posted item is handled.</summary>
    public Task CompleteAsync()
    {
        Enqueue(default!, end: true);
        return _thread;
    }

    /// <summary>Stops the thread and waits for it: no item is handled after this returns.</summary>
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
        catch (Exception)
        {
            // Already seen by CompleteAsync, or nobody waits for the work any more (a failed or cancelled fetch).
        }

        _posted.Dispose();
        _stop.Dispose();
    }

    private void Enqueue(T item, bool end)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        _ring[_head] = (item, end);
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
                (T item, bool end) = _ring[_tail];
                _ring[_tail] = default;
                _tail = (_tail + 1) % _ring.Length;
                if (end)
                    return;
                _handle(item);
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
            // Disposed before the end mark.
        }
    }
}
