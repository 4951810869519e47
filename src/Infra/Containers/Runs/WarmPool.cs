using InfraMind.Node.Containers.Sandbox;

namespace InfraMind.Node.Containers.Runs;

/// <summary>
/// Warm containers for `protocol: rest` models, one per model, so a request after the first pays no
/// container start. Bounded by the memory the warm containers declare: starting one past the budget
/// stops the least recently used first. A container whose request failed is recycled, not reused.
/// </summary>
public sealed class WarmPool(SandboxLauncher launcher, long memoryBudgetBytes, TimeSpan readyTimeout) : IAsyncDisposable
{
    private readonly Dictionary<string, Entry> _warm = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _lock = new(1, 1);

    /// <summary>The label value warm containers carry as their job: the reconciler keeps these alive.</summary>
    public static string WarmJobLabel(string modelKey) => "warm-" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(modelKey)))[..16];

    public int Count => _warm.Count;

    public IReadOnlySet<string> LiveLabels()
    {
        _lock.Wait();
        try
        {
            return _warm.Values.Select(e => e.Spec.JobId).ToHashSet(StringComparer.Ordinal);
        }
        finally
        {
            _lock.Release();
        }
    }

    /// <summary>
    /// The warm container of <paramref name="modelKey"/>, started from <paramref name="spec"/> (whose job label is
    /// replaced by the model's warm label) when there is none.
    /// </summary>
    public async Task<(RestContainer Container, bool Reused)> GetAsync(string modelKey, SandboxSpec spec, int port, CancellationToken cancellationToken)
    {
        List<RestContainer> evicted = [];
        await _lock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_warm.TryGetValue(modelKey, out Entry? entry))
            {
                entry.LastUsed = Environment.TickCount64;
                return (entry.Container, true);
            }

            SandboxSpec warmSpec = spec with { JobId = WarmJobLabel(modelKey) };
            long needed = spec.Resources.MemoryBytes;
            while (_warm.Count > 0 && _warm.Values.Sum(e => e.Spec.Resources.MemoryBytes) + needed > memoryBudgetBytes)
            {
                KeyValuePair<string, Entry> oldest = _warm.MinBy(e => e.Value.LastUsed);
                _warm.Remove(oldest.Key);
                evicted.Add(oldest.Value.Container);
            }

            RestContainer started = await RestContainer.StartAsync(launcher, warmSpec, port, readyTimeout, cancellationToken).ConfigureAwait(false);
            if (needed <= memoryBudgetBytes)
                _warm[modelKey] = new Entry(started, warmSpec) { LastUsed = Environment.TickCount64 };
            return (started, false);
        }
        finally
        {
            _lock.Release();
            foreach (RestContainer gone in evicted)
                await gone.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Whether <paramref name="container"/> stays warm after a request (it does unless it is over the budget alone).</summary>
    public bool IsPooled(RestContainer container)
    {
        _lock.Wait();
        try
        {
            return _warm.Values.Any(e => ReferenceEquals(e.Container, container));
        }
        finally
        {
            _lock.Release();
        }
    }

    /// <summary>Stops and forgets a model's warm container after a failed request; the next job starts a fresh one.</summary>
    public async Task RecycleAsync(string modelKey, RestContainer container)
    {
        await _lock.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_warm.TryGetValue(modelKey, out Entry? entry) && ReferenceEquals(entry.Container, container))
                _warm.Remove(modelKey);
        }
        finally
        {
            _lock.Release();
        }

        await container.DisposeAsync().ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        await _lock.WaitAsync().ConfigureAwait(false);
        List<Entry> all = [.. _warm.Values];
        _warm.Clear();
        _lock.Release();
        foreach (Entry entry in all)
            await entry.Container.DisposeAsync().ConfigureAwait(false);
    }

    private sealed class Entry(RestContainer container, SandboxSpec spec)
    {
        public RestContainer Container { get; } = container;

        public SandboxSpec Spec { get; } = spec;

        public long LastUsed { get; set; }
    }
}
