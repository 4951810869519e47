namespace InfraMind.Node.Jobs.Intake;

/// <summary>
/// Job ids already accepted, each remembered until its deadline has passed (CONTRACT.md §3): a replayed
/// job is refused as a duplicate. Bounded, so a flood of far-future deadlines cannot grow it without end.
/// </summary>
public sealed class ReplayGuard(TimeProvider time, int capacity = 100_000)
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
        ulong now = (ulong)time.GetUtcNow().ToUnixTimeSeconds();
        lock (_lock)
        {
            if (now >= _nextSweep || _deadlines.Count >= capacity)
                Sweep(now);
            full = false;
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

    /// <summary>Forgets an id whose job was refused after it was reserved (queue full, input invalid): the scheduler may send it again.</summary>
    public void Release(string jobId)
    {
        lock (_lock)
            _deadlines.Remove(jobId);
    }

    /// <summary>Seeds ids known from before a restart (the receipt log), so a replay after a crash is still caught.</summary>
    public void Remember(string jobId, ulong deadline)
    {
        lock (_lock)
            _deadlines[jobId] = deadline;
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
