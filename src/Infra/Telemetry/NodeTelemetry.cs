using System.Collections.Immutable;

namespace InfraMind.Node.Telemetry;

/// <summary>One finished job in the recent history: when it ended, how, and how long it took.</summary>
public readonly record struct JobOutcomeRecord(DateTimeOffset FinishedAt, JobFinalState State, TimeSpan Latency);

/// <summary>
/// The node's live numbers, the one source that heartbeats, <c>GET /v1/status</c>, <c>GET /metrics</c> and
/// <c>infra status</c> all read. Writers are the job pipeline, the cache, the fetchers and the mesh link; any thread
/// may call any method.
/// </summary>
/// <remarks>
/// Counters and gauges are Interlocked/Volatile fields, so the hot paths (cache lookups, state changes) never lock.
/// The two small ring buffers (last 50 latencies, last outcomes) and the fetch-rate window take a private lock: they
/// change once per finished job or fetch, which is rare next to a lock's cost, and a lock keeps their mean exact.
/// </remarks>
public sealed class NodeTelemetry
{
    /// <summary>How many finished jobs the mean latency covers (the heartbeat's <c>mean_latency_ms</c>).</summary>
    public const int LatencyWindow = 50;

    /// <summary>How many outcomes the history keeps.</summary>
    public const int OutcomeHistory = 64;

    /// <summary>How many recent fetches the rolling fetch rate covers.</summary>
    public const int FetchWindow = 8;

    private readonly TimeProvider _time;
    private readonly long[] _jobs = new long[TelemetryCodes.JobStateCount];
    private readonly long[] _rejections = new long[TelemetryCodes.RejectionReasonCount];
    private readonly LatencyHistogram _histogram = new();

    private readonly Lock _ringLock = new();
    private readonly long[] _latencyRingMicros = new long[LatencyWindow];
    private int _latencyCount;
    private int _latencyNext;
    private long _latencyRingSumMicros;
    private readonly JobOutcomeRecord[] _outcomes = new JobOutcomeRecord[OutcomeHistory];
    private int _outcomeCount;
    private int _outcomeNext;

    private readonly (long Bytes, long Ticks)[] _fetchRing = new (long, long)[FetchWindow];
    private int _fetchCount;
    private int _fetchNext;
    private long _lastFetchRateBits;
    private long _rollingFetchRateBits;

    private long _queueDepth;
    private long _activeJobs;
    private long _cacheHits;
    private long _cacheMisses;
    private long _cacheBytesServed;
    private long _fetchBytes;

    private int _meshState;
    private string? _meshEndpoint;
    private long _meshReconnects;
    private long _lastHeartbeatUtcTicks; // 0: none yet
    private long _unackedReceipts;
    private string? _stake;
    private int _idleWithoutJobs;

    /// <param name="nodeId">The node's address (CONTRACT.md §2).</param>
    /// <param name="region">The configured region hint.</param>
    /// <param name="version">The binary's version, e.g. <see cref="BuildInfo.Version"/>.</param>
    /// <param name="startedAt">When the agent started; uptime counts from here.</param>
    /// <param name="time">The clock; tests pass a fake.</param>
    public NodeTelemetry(string nodeId, string region, string version, DateTimeOffset startedAt, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(nodeId);
        ArgumentNullException.ThrowIfNull(region);
        ArgumentNullException.ThrowIfNull(version);
        NodeId = nodeId;
        Region = region;
        Version = version;
        StartedAt = startedAt;
        _time = time ?? TimeProvider.System;

        // Escaped once here so a scrape copies bytes and encodes nothing.
        NodeIdLabel = PrometheusText.EscapeLabelValue(nodeId);
        RegionLabel = PrometheusText.EscapeLabelValue(region);
        VersionLabel = PrometheusText.EscapeLabelValue(version);
    }

    public string NodeId { get; }

    public string Region { get; }

    public string Version { get; }

    public DateTimeOffset StartedAt { get; }

    internal byte[] NodeIdLabel { get; }

    internal byte[] RegionLabel { get; }

    internal byte[] VersionLabel { get; }

    internal LatencyHistogram Histogram => _histogram;

    internal TimeProvider Time => _time;

    // ---- jobs ----

    /// <summary>
    /// A job reached a final state other than <see cref="JobFinalState.Rejected"/> (use <see cref="RecordRejection(RejectionReason)"/>).
    /// Jobs that ran to a receipt (all but <see cref="JobFinalState.Cancelled"/>) add their latency to the histogram and
    /// the last-50 mean; every such job, cancelled ones included, enters the outcome history.
    /// </summary>
    public void RecordJobFinished(JobFinalState state, TimeSpan latency)
    {
        if (state == JobFinalState.Rejected)
            ThrowHelper.ThrowArgument(nameof(state), "a rejection has a reason; call RecordRejection(reason) instead");
        if ((uint)state >= TelemetryCodes.JobStateCount)
            ThrowHelper.ThrowArgument(nameof(state), $"{(int)state} is not a JobFinalState; use one of its named members");

        Interlocked.Increment(ref _jobs[(int)state]);
        if (latency < TimeSpan.Zero)
            latency = TimeSpan.Zero;
        bool served = state != JobFinalState.Cancelled;
        if (served)
            _histogram.Observe(latency);

        long micros = latency.Ticks / TimeSpan.TicksPerMicrosecond;
        var record = new JobOutcomeRecord(_time.GetUtcNow(), state, latency);
        lock (_ringLock)
        {
            if (served)
            {
                _latencyRingSumMicros += micros - _latencyRingMicros[_latencyNext];
                _latencyRingMicros[_latencyNext] = micros;
                _latencyNext = (_latencyNext + 1) % LatencyWindow;
                _latencyCount = Math.Min(_latencyCount + 1, LatencyWindow);
            }

            _outcomes[_outcomeNext] = record;
            _outcomeNext = (_outcomeNext + 1) % OutcomeHistory;
            _outcomeCount = Math.Min(_outcomeCount + 1, OutcomeHistory);
        }
    }

    /// <summary>A job was refused at intake: counts <c>jobs_total{state="rejected"}</c> and the reason.</summary>
    public void RecordRejection(RejectionReason reason)
    {
        if ((uint)reason >= TelemetryCodes.RejectionReasonCount)
            reason = RejectionReason.Other;
        Interlocked.Increment(ref _jobs[(int)JobFinalState.Rejected]);
        Interlocked.Increment(ref _rejections[(int)reason]);
    }

    /// <summary>As <see cref="RecordRejection(RejectionReason)"/> for a wire code; an unknown code counts as "other". Returns whether the code was known.</summary>
    public bool RecordRejection(ReadOnlySpan<char> code)
    {
        bool known = TelemetryCodes.TryParseReason(code, out RejectionReason reason);
        RecordRejection(reason);
        return known;
    }

    public void SetQueueDepth(int depth) => Volatile.Write(ref _queueDepth, Math.Max(0, depth));

    public void SetActiveJobs(int active) => Volatile.Write(ref _activeJobs, Math.Max(0, active));

    // ---- cache and fetch ----

    /// <summary>A bundle was found in the cache; <paramref name="bytesServed"/> is what it saved fetching.</summary>
    public void RecordCacheHit(long bytesServed)
    {
        Interlocked.Increment(ref _cacheHits);
        if (bytesServed > 0)
            Interlocked.Add(ref _cacheBytesServed, bytesServed);
    }

    public void RecordCacheMiss() => Interlocked.Increment(ref _cacheMisses);

    /// <summary>A fetch finished: adds its bytes and updates the last and rolling (last <see cref="FetchWindow"/> fetches) rates.</summary>
    public void RecordFetch(long bytes, TimeSpan elapsed)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        Interlocked.Add(ref _fetchBytes, bytes);
        if (elapsed <= TimeSpan.Zero)
            return; // no rate from a zero-length interval

        lock (_ringLock)
        {
            _fetchRing[_fetchNext] = (bytes, elapsed.Ticks);
            _fetchNext = (_fetchNext + 1) % FetchWindow;
            _fetchCount = Math.Min(_fetchCount + 1, FetchWindow);
            double totalBytes = 0;
            long totalTicks = 0;
            for (int i = 0; i < _fetchCount; i++)
            {
                totalBytes += _fetchRing[i].Bytes;
                totalTicks += _fetchRing[i].Ticks;
            }

            Volatile.Write(ref _lastFetchRateBits, BitConverter.DoubleToInt64Bits(bytes / elapsed.TotalSeconds));
            Volatile.Write(ref _rollingFetchRateBits, BitConverter.DoubleToInt64Bits(totalBytes / TimeSpan.FromTicks(totalTicks).TotalSeconds));
        }
    }

    // ---- mesh ----

    /// <summary>The link's state and, when it is dialling or connected, the scheduler URL in use.</summary>
    public void SetMeshState(MeshLinkState state, Uri? endpoint = null)
    {
        if (endpoint is not null)
            Volatile.Write(ref _meshEndpoint, endpoint.ToString());
        Volatile.Write(ref _meshState, (int)state);
    }

    public void RecordReconnect() => Interlocked.Increment(ref _meshReconnects);

    /// <summary>A heartbeat was sent now (the age in metrics and status counts from here).</summary>
    public void RecordHeartbeat() => Volatile.Write(ref _lastHeartbeatUtcTicks, _time.GetUtcNow().UtcTicks);

    public void SetUnackedReceipts(int count) => Volatile.Write(ref _unackedReceipts, Math.Max(0, count));

    /// <summary>The stake the scheduler's welcome reported, e.g. "512 INFRA"; null when unknown.</summary>
    public void SetStake(string? stake) => Volatile.Write(ref _stake, stake);

    /// <summary>Set by the mesh link while it is connected but has been given no job for a while.</summary>
    public void SetIdleWithoutJobs(bool idle) => Volatile.Write(ref _idleWithoutJobs, idle ? 1 : 0);

    // ---- reads ----

    internal long JobCount(JobFinalState state) => Volatile.Read(ref _jobs[(int)state]);

    internal long RejectionCount(RejectionReason reason) => Volatile.Read(ref _rejections[(int)reason]);

    internal long QueueDepth => Volatile.Read(ref _queueDepth);

    internal long ActiveJobs => Volatile.Read(ref _activeJobs);

    internal long CacheHits => Volatile.Read(ref _cacheHits);

    internal long CacheMisses => Volatile.Read(ref _cacheMisses);

    internal long CacheBytesServed => Volatile.Read(ref _cacheBytesServed);

    internal long FetchBytes => Volatile.Read(ref _fetchBytes);

    internal double RollingFetchRate => BitConverter.Int64BitsToDouble(Volatile.Read(ref _rollingFetchRateBits));

    internal MeshLinkState MeshState => (MeshLinkState)Volatile.Read(ref _meshState);

    internal long MeshReconnects => Volatile.Read(ref _meshReconnects);

    internal long UnackedReceipts => Volatile.Read(ref _unackedReceipts);

    internal long JobsFailed => TelemetrySnapshot.FailedOf(_jobs);

    internal double CacheHitRatio => TelemetrySnapshot.HitRatioOf(CacheHits, CacheMisses);

    internal long JobsServed => TelemetrySnapshot.ServedOf(_jobs);

    /// <summary>As <see cref="TelemetrySnapshot.MeanLatencyMs"/>, read without taking a whole snapshot.</summary>
    internal double MeanLatencyMs
    {
        get
        {
            lock (_ringLock)
                return MeanLatencyMsLocked();
        }
    }

    internal string? Stake => Volatile.Read(ref _stake);

    internal bool IdleWithoutJobs => Volatile.Read(ref _idleWithoutJobs) != 0;

    private double MeanLatencyMsLocked() => _latencyCount == 0 ? 0 : _latencyRingSumMicros / 1000.0 / _latencyCount;

    /// <summary>Seconds since the last heartbeat at <paramref name="now"/>, or null before the first.</summary>
    internal double? HeartbeatAgeSeconds(DateTimeOffset now)
    {
        long ticks = Volatile.Read(ref _lastHeartbeatUtcTicks);
        return ticks == 0 ? null : Math.Max(0, (now.UtcTicks - ticks) / (double)TimeSpan.TicksPerSecond);
    }

    internal double UptimeSeconds(DateTimeOffset now) => Math.Max(0, (now - StartedAt).TotalSeconds);

    /// <summary>Every number at one moment, with the derived ones (see <see cref="TelemetrySnapshot"/>).</summary>
    public TelemetrySnapshot Snapshot()
    {
        DateTimeOffset now = _time.GetUtcNow();
        var jobs = new long[TelemetryCodes.JobStateCount];
        for (int i = 0; i < jobs.Length; i++)
            jobs[i] = Volatile.Read(ref _jobs[i]);
        var rejections = new long[TelemetryCodes.RejectionReasonCount];
        for (int i = 0; i < rejections.Length; i++)
            rejections[i] = Volatile.Read(ref _rejections[i]);

        double meanMs;
        int latencyCount;
        JobOutcomeRecord[] recent;
        lock (_ringLock)
        {
            latencyCount = _latencyCount;
            meanMs = MeanLatencyMsLocked();
            recent = new JobOutcomeRecord[_outcomeCount];
            int start = (_outcomeNext - _outcomeCount + OutcomeHistory) % OutcomeHistory;
            for (int i = 0; i < recent.Length; i++)
                recent[i] = _outcomes[(start + i) % OutcomeHistory];
        }

        long ticks = Volatile.Read(ref _lastHeartbeatUtcTicks);
        return new TelemetrySnapshot
        {
            TakenAt = now,
            NodeId = NodeId,
            Region = Region,
            Version = Version,
            StartedAt = StartedAt,
            Uptime = TimeSpan.FromSeconds(UptimeSeconds(now)),
            JobsByState = ImmutableArray.Create(jobs),
            RejectionsByReason = ImmutableArray.Create(rejections),
            Latency = _histogram.Snapshot(),
            MeanLatencyMs = meanMs,
            MeanLatencyJobs = latencyCount,
            RecentOutcomes = ImmutableArray.Create(recent),
            QueueDepth = QueueDepth,
            ActiveJobs = ActiveJobs,
            CacheHits = CacheHits,
            CacheMisses = CacheMisses,
            CacheBytesServed = CacheBytesServed,
            FetchBytes = FetchBytes,
            LastFetchRateBytesPerSecond = BitConverter.Int64BitsToDouble(Volatile.Read(ref _lastFetchRateBits)),
            RollingFetchRateBytesPerSecond = RollingFetchRate,
            MeshState = MeshState,
            MeshEndpoint = Volatile.Read(ref _meshEndpoint),
            MeshReconnects = MeshReconnects,
            LastHeartbeatAt = ticks == 0 ? null : new DateTimeOffset(ticks, TimeSpan.Zero),
            HeartbeatAge = HeartbeatAgeSeconds(now) is { } age ? TimeSpan.FromSeconds(age) : null,
            UnackedReceipts = UnackedReceipts,
            Stake = Stake,
            IdleWithoutJobs = IdleWithoutJobs,
        };
    }
}
