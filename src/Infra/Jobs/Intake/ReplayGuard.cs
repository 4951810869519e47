namespace InfraMind.Node.Jobs.Intake;

/// <summary>
/// Job ids already accepted, each remembered until its deadline has passed (CONTRACT.md §3): a replayed
/// job is refused as a duplicate. Bounded, so a flood of far-future deadlines cannot grow it without end.
/// </summary>
/// <param name="logged">Whether a job already has a receipt in the receipt log: a replay from before a restart, or
/// from after its id left this guard, is refused as a duplicate too. The log answers from its own index, so the guard
/// needs no seeding at start (which used to fill it with a week of receipts, past its capacity on a busy node).</param>
public sealed class ReplayGuard(TimeProvider time, int capacity = 100_000, Func<string, bool>? logged = null)
{
    private readonly Dictionary<string, ulong> _deadlines = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();
    private ulong _nextSweep;

    public int Count
    {
        get
        {
            lock (_lock)
                return _deadlines.Count;
        }
    }

    /// <summary>Claims the id; false when it was seen before and its deadline has not passed.</summary>
    public bool TryReserve(string jobId, ulong deadline, out bool full)
    {
        full = false;
        if (logged?.Invoke(jobId) == true)
            return false;
        ulong now = (ulong)time.GetUtcNow().ToUnixTimeSeconds();
        lock (_lock)
        {
            if (now >= _nextSweep || _deadlines.Count >= capacity)
                Sweep(now);
            if (_deadlines.TryGetValue(jobId, out ulong seenUntil) && seenUntil >= now)
                return false;
            if (_deadlines.Count >= capacity)
            {
                full = true;
                return false;
            }

            _deadlines[jobId] = deadline;
            return true;
        }
    }

    /// <summary>
    /// The job's receipt is durable in the log, which refuses its replays from now on (<c>logged</c>): the guard forgets
    /// it, so it holds only jobs still in flight, not every job until its deadline (44,000 ids at 730 jobs/s with 60 s
    /// deadlines in the soak; refusing all jobs as "full" at its capacity). Without <c>logged</c> it keeps the id.
    /// </summary>
    public void Settled(string jobId)
    {
        if (logged is null)
            return;
        lock (_lock)
            _deadlines.Remove(jobId);
    }

    /// <summary>Forgets an id whose job was refused after it was reserved (queue full, input invalid): the scheduler may send it again.</summary>
    public void Release(string jobId)
    {
        lock (_lock)
            _deadlines.Remove(jobId);
    }

    private void Sweep(ulong now)
    {
        foreach ((string id, ulong deadline) in _deadlines)
        {
            if (deadline < now)
                _deadlines.Remove(id);
        }

        _nextSweep = now + 10;
    }
}
