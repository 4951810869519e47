using System.Collections.Immutable;

namespace InfraMind.Node.Telemetry;

/// <summary>
/// The node's numbers at one moment, immutable; what status, heartbeats and the CLI read.
/// Each count array is indexed by its enum (<see cref="JobFinalState"/>, <see cref="RejectionReason"/>).
/// </summary>
public sealed record TelemetrySnapshot
{
    public required DateTimeOffset TakenAt { get; init; }

    public required string NodeId { get; init; }

    public required string Region { get; init; }

    public required string Version { get; init; }

    public required DateTimeOffset StartedAt { get; init; }

    public required TimeSpan Uptime { get; init; }

    public required ImmutableArray<long> JobsByState { get; init; }

    public required ImmutableArray<long> RejectionsByReason { get; init; }

    /// <summary>Latencies of every job that ran to a receipt since start.</summary>
    public required LatencyHistogramSnapshot Latency { get; init; }

    /// <summary>Mean latency of the last <see cref="NodeTelemetry.LatencyWindow"/> jobs that ran to a receipt; 0 before the first.</summary>
    public required double MeanLatencyMs { get; init; }

    /// <summary>How many jobs <see cref="MeanLatencyMs"/> averages (0 to 50).</summary>
    public required int MeanLatencyJobs { get; init; }

    /// <summary>The last accepted jobs' outcomes, oldest first (rejections are not outcomes of accepted jobs and are not listed).</summary>
    public required ImmutableArray<JobOutcomeRecord> RecentOutcomes { get; init; }

    public required long QueueDepth { get; init; }

    public required long ActiveJobs { get; init; }

    public required long CacheHits { get; init; }

    public required long CacheMisses { get; init; }

    public required long CacheBytesServed { get; init; }

    public required long FetchBytes { get; init; }

    /// <summary>The last finished fetch's throughput; 0 before the first.</summary>
    public required double LastFetchRateBytesPerSecond { get; init; }

    /// <summary>Bytes over seconds of the last <see cref="NodeTelemetry.FetchWindow"/> fetches; 0 before the first.</summary>
    public required double RollingFetchRateBytesPerSecond { get; init; }

    public required MeshLinkState MeshState { get; init; }

    /// <summary>The scheduler URL in use or last tried; null when none was dialled.</summary>
    public string? MeshEndpoint { get; init; }

    public required long MeshReconnects { get; init; }

    public required DateTimeOffset? LastHeartbeatAt { get; init; }

    /// <summary>Time since the last heartbeat; null before the first.</summary>
    public required TimeSpan? HeartbeatAge { get; init; }

    public required long UnackedReceipts { get; init; }

    public required string? Stake { get; init; }

    public required bool IdleWithoutJobs { get; init; }

    public long Jobs(JobFinalState state) => JobsByState[(int)state];

    public long Rejections(RejectionReason reason) => RejectionsByReason[(int)reason];

    /// <summary>
    /// Jobs that ran to a signed receipt: succeeded + output_invalid + failed + timed_out. Rejected jobs never ran and
    /// cancelled ones were stopped by the scheduler, so neither counts as served (CONTRACT.md's <c>jobs_served</c>).
    /// </summary>
    public long JobsServed => ServedOf(JobsByState.AsSpan());

    public long JobsSucceeded => Jobs(JobFinalState.Succeeded);

    /// <summary>Served jobs that did not succeed: output_invalid + failed + timed_out (the heartbeat's <c>jobs_failed</c>).</summary>
    public long JobsFailed => FailedOf(JobsByState.AsSpan());

    /// <summary><see cref="JobsServed"/> from counts indexed by <see cref="JobFinalState"/>.</summary>
    internal static long ServedOf(ReadOnlySpan<long> byState) => byState[(int)JobFinalState.Succeeded] + FailedOf(byState);

    /// <summary><see cref="JobsFailed"/> from counts indexed by <see cref="JobFinalState"/>.</summary>
    internal static long FailedOf(ReadOnlySpan<long> byState) =>
        byState[(int)JobFinalState.OutputInvalid] + byState[(int)JobFinalState.Failed] + byState[(int)JobFinalState.TimedOut];

    /// <summary>Hits over lookups; 0 before the first lookup.</summary>
    public double CacheHitRatio => HitRatioOf(CacheHits, CacheMisses);

    internal static double HitRatioOf(long hits, long misses) => hits + misses == 0 ? 0 : hits / (double)(hits + misses);

    public bool MeshConnected => MeshState == MeshLinkState.Connected;
}
