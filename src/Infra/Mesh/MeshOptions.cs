using InfraMind.Node.Configuration;
using InfraMind.Node.Telemetry;

namespace InfraMind.Node.Mesh;

/// <summary>How the mesh link dials, paces and gives up; <see cref="FromConfig"/> fills it from config.yaml.</summary>
public sealed record MeshOptions
{
    /// <summary>Heartbeat interval bounds of CONTRACT.md §5; a welcome outside them is clamped.</summary>
    public const int MinHeartbeatMs = 1000;
    public const int MaxHeartbeatMs = 5000;

    /// <summary>
    /// A stream silent for this many heartbeat intervals is declared dead and replaced. Issue #7 wants a stall replaced
    /// within 3 intervals of its start; the last ping may arrive just before the stall, so detection alone must leave
    /// room for the redial and hello (half an interval, at least 500 ms), while still riding out one lost ping.
    /// </summary>
    public const double DeadAfterIntervals = 2.5;

    /// <summary>The silence after which a welcomed stream with this heartbeat interval is declared dead.</summary>
    public static TimeSpan SilenceLimit(TimeSpan heartbeatInterval) => heartbeatInterval * DeadAfterIntervals;

    /// <summary>Scheduler URLs, tried in order: <c>http://</c> is HTTP/2 cleartext (h2c), <c>https://</c> TLS.</summary>
    public required IReadOnlyList<Uri> Endpoints { get; init; }

    /// <summary>The EIP-712 domain's chain id (mesh.chain_id).</summary>
    public required ulong ChainId { get; init; }

    public string Region { get; init; } = "unknown";

    public string Version { get; init; } = "0.0.0";

    /// <summary>Dial plus welcome: a scheduler that has not welcomed the node by then is tried no longer.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Connected but given no job for this long sets the idle flag in status and metrics.</summary>
    public TimeSpan IdleAlert { get; init; } = TimeSpan.FromSeconds(600);

    /// <summary>Exponential backoff with full jitter: the n-th retry waits uniform(0, min(max, initial·2ⁿ)).</summary>
    public TimeSpan BackoffInitial { get; init; } = TimeSpan.FromMilliseconds(500);

    public TimeSpan BackoffMax { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>CPU and memory utilisation for heartbeats (the telemetry sampler's latest); unknown reads as 0.</summary>
    public Func<HostLoadSample>? Load { get; init; }

    /// <summary>One-line notes about the link (connects, failures); null drops them.</summary>
    public Action<string>? Info { get; init; }

    public Action<string>? Warn { get; init; }

    public static MeshOptions FromConfig(NodeConfig config, string version) => new()
    {
        Endpoints = config.Mesh.Endpoints,
        ChainId = config.Mesh.ChainId,
        Region = config.Node.Region,
        Version = version,
        ConnectTimeout = TimeSpan.FromSeconds(config.Mesh.ConnectTimeoutSeconds),
        IdleAlert = TimeSpan.FromSeconds(config.Mesh.IdleAlertSeconds),
    };
}
