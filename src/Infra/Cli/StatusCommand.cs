using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Grpc.Core;
using InfraMind.Node.Configuration;
using InfraMind.Node.Control;
using InfraMind.Node.Protos.Control;

namespace InfraMind.Node.Cli;

/// <summary>`infra status`: asks the running agent over the control socket (CONTRACT.md §1, §6).</summary>
public static class StatusCommand
{
    public static readonly CommandSpec Spec = new(
        "status",
        "ask the running agent how it is doing",
        "infra status [--json] [--config PATH]",
        [
            new("--json", null, "print JSON (the fields of GET /v1/status) instead of text"),
            new("--config", "PATH", "configuration file (control.socket)"),
            new("--help", null, "show this help"),
        ],
        Run);

    private static int Run(ParsedArguments args)
    {
        NodeConfig config = Program.LoadConfig(args);
        return RunAsync(config.Control.Socket, args.Has("--json"), Console.Out, CancellationToken.None).GetAwaiter().GetResult();
    }

    /// <summary>The command without the process around it: tests call this with their own socket and writer.</summary>
    internal static async Task<int> RunAsync(string socketPath, bool json, TextWriter output, CancellationToken cancellationToken)
    {
        using ControlClient control = ControlClient.Open(socketPath);
        StatusReply status;
        try
        {
            status = await control.Client.GetStatusAsync(new GetStatusRequest(), ControlClient.UnaryOptions(cancellationToken)).ConfigureAwait(false);
        }
        catch (RpcException e)
        {
            control.Fail(e, "infra status");
            return 1;
        }

        if (json)
            await output.WriteLineAsync(JsonSerializer.Serialize(StatusJson.From(status), StatusJsonContext.Default.StatusJson)).ConfigureAwait(false);
        else
            await output.WriteAsync(Format(status)).ConfigureAwait(false);
        return 0;
    }

    /// <summary>The seed's six lines first (scripts grep them), then the rest.</summary>
    internal static string Format(StatusReply s)
    {
        var text = new System.Text.StringBuilder();
        void Line(string label, string value) => text.Append(CultureInfo.InvariantCulture, $"{label + ":",-16}{value}\n");

        Line("Node ID", s.NodeId);
        Line("Jobs Served", s.JobsServed.ToString("N0", CultureInfo.InvariantCulture));
        Line("Avg Latency", Math.Round(s.AvgLatencyMs).ToString("0", CultureInfo.InvariantCulture) + "ms");
        Line("Uptime", FormatUptime(s.UptimeS));
        Line("Stake", s.Stake.Length > 0 ? s.Stake : "none");
        Line("Region", s.Region);
        Line("Version", s.Version);
        Line("Jobs Failed", s.JobsFailed.ToString("N0", CultureInfo.InvariantCulture));
        Line("Active Jobs", s.ActiveJobs.ToString(CultureInfo.InvariantCulture));
        Line("Queue", s.QueueDepth.ToString(CultureInfo.InvariantCulture) + " waiting");
        Line("Cache Hits", Percent(s.CacheHitRatio));
        Line("Mesh", FormatMesh(s.Mesh));
        Line("CPU", Percent(s.CpuUtilization));
        Line("Memory", $"{Percent(s.MemoryUtilization)} of the host; agent resident {ByteSize.Format((long)Math.Min(s.ResidentMemoryBytes, long.MaxValue))}");
        Line("Draining", s.Draining ? "yes: new jobs are refused (`infra drain --resume` takes them again)" : "no");
        return text.ToString();
    }

    /// <summary>"3d 4h 12m" as in the seed; under a day "4h 12m", under an hour "12m 5s".</summary>
    internal static string FormatUptime(ulong seconds)
    {
        ulong days = seconds / 86400, hours = seconds % 86400 / 3600, minutes = seconds % 3600 / 60;
        return days > 0 ? string.Create(CultureInfo.InvariantCulture, $"{days}d {hours}h {minutes}m")
            : hours > 0 ? string.Create(CultureInfo.InvariantCulture, $"{hours}h {minutes}m")
            : string.Create(CultureInfo.InvariantCulture, $"{minutes}m {seconds % 60}s");
    }

    private static string FormatMesh(MeshLink? mesh)
    {
        if (mesh is null || mesh.State is MeshState.Unspecified or MeshState.Standalone)
            return "standalone (no mesh.endpoints configured)";
        string heartbeat = mesh.LastHeartbeatAgeMs < 0
            ? "no heartbeat yet"
            : string.Create(CultureInfo.InvariantCulture, $"heartbeat {mesh.LastHeartbeatAgeMs / 1000.0:0.0}s ago");
        return string.Create(CultureInfo.InvariantCulture,
            $"{ControlNames.Of(mesh.State)} to {mesh.Endpoint} ({heartbeat}, {mesh.Reconnects} reconnects, {mesh.UnackedReceipts} unacked receipts)");
    }

    private static string Percent(double ratio) => (ratio * 100).ToString("0.0", CultureInfo.InvariantCulture) + "%";
}

/// <summary>`infra status --json`: the names of GET /v1/status (CONTRACT.md §4), plus the control plane's extras.</summary>
internal sealed record StatusJson(
    string NodeId, string Region, string Version, ulong UptimeS, ulong JobsServed, ulong JobsFailed, double AvgLatencyMs,
    uint ActiveJobs, uint QueueDepth, double CacheHitRatio, string Stake, MeshJson Mesh,
    double CpuUtilization, double MemoryUtilization, ulong ResidentMemoryBytes, bool Draining)
{
    public static StatusJson From(StatusReply s)
    {
        MeshLink mesh = s.Mesh ?? new MeshLink { State = MeshState.Standalone, LastHeartbeatAgeMs = -1 };
        return new StatusJson(
            s.NodeId, s.Region, s.Version, s.UptimeS, s.JobsServed, s.JobsFailed, s.AvgLatencyMs, s.ActiveJobs, s.QueueDepth,
            s.CacheHitRatio, s.Stake,
            new MeshJson(ControlNames.Of(mesh.State), mesh.Endpoint, mesh.LastHeartbeatAgeMs, mesh.Reconnects, mesh.UnackedReceipts),
            s.CpuUtilization, s.MemoryUtilization, s.ResidentMemoryBytes, s.Draining);
    }
}

internal sealed record MeshJson(string State, string Endpoint, long LastHeartbeatAgeMs, ulong Reconnects, uint UnackedReceipts);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(StatusJson))]
internal sealed partial class StatusJsonContext : JsonSerializerContext;
