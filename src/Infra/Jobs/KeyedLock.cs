namespace InfraMind.Node.Jobs;

/// <summary>
/// One holder per key at a time (a model's prepare). A key's entry lives only while someone holds or waits for it,
/// so a node that sees thousands of models over months keeps no semaphore per model it once prepared.
/// </summary>
internal sealed class KeyedLock
{
    private readonly Dictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    /// <summary>Keys held or waited for now.</summary>
    public int ActiveKeys
    {
        get
        {
            lock (_lock)
                return _entries.Count;
        }
    }

    /// <summary>Waits until <paramref name="key"/> is free and takes it; dispose the result to let the next one in.</summary>
    public async ValueTask<Holder> AcquireAsync(string key, CancellationToken cancellationToken)
    {
        Entry entry;
        lock (_lock)
        {
            if (!_entries.TryGetValue(key, out entry!))
                _entries[key] = entry = new Entry();
            entry.Users++;
        }

        try
        {
            await entry.Semaphore.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            Leave(key, entry);
            throw;
        }

        return new Holder(this, key, entry);
    }

    private void Leave(string key, Entry entry)
    {
        lock (_lock)
        {
            if (--entry.Users != 0)
                return;
            _entries.Remove(key);
        }

        entry.Dispose(); // no holder and no waiter is left to touch it
    }

    /// <summary>Holds a key until disposed (once).</summary>
    public readonly struct Holder : IDisposable
    {
        private readonly KeyedLock _owner;
        private readonly string _key;
        private readonly Entry _entry;

        internal Holder(KeyedLock owner, string key, Entry entry) => (_owner, _key, _entry) = (owner, key, entry);

        public void Dispose()
        {
            _entry.Semaphore.Release();
            _owner.Leave(_key, _entry);
        }
    }

    internal sealed class Entry : IDisposable
    {
        public readonly SemaphoreSlim Semaphore = new(1);

        /// <summary>Holder and waiters; guarded by the owner's lock.</summary>
        public int Users;

        public void Dispose() => Semaphore.Dispose();
    }
}
