using System.Globalization;

namespace InfraMind.Scheduler;

public sealed record SchedulerOptions
{
    public int Port { get; init; } = 7000;

    public int AdminPort { get; init; } = 7001;

    /// <summary>The scheduler's secp256k1 key (64 hex, like the node's identity file); a fresh one when absent.</summary>
    public string? KeyFile { get; init; }

    public ulong ChainId { get; init; } = 31337;

    public uint HeartbeatMs { get; init; } = 1000;

    /// <summary>Ping period; the heartbeat interval when 0.</summary>
    public int PingMs { get; init; }

    public string Stake { get; init; } = "512 INFRA";

    /// <summary>Stored receipts, one JSON object a line; kept across restarts.</summary>
    public string? ReceiptsFile { get; init; }

    /// <summary>A JSON array of job drafts (the POST /admin/jobs body) sent to every node once it is welcomed.</summary>
    public string? JobsFile { get; init; }

    public bool WithholdAcks { get; init; }

    public static SchedulerOptions Parse(string[] args)
    {
        var options = new SchedulerOptions();
        for (int i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            int Int(string text) => int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int v) ? v : throw new ArgumentException($"'{text}' is not a number");
            options = args[i] switch
            {
                "--port" => options with { Port = Int(Next()) },
                "--admin-port" => options with { AdminPort = Int(Next()) },
                "--key" => options with { KeyFile = Next() },
                "--chain-id" => options with { ChainId = (ulong)Int(Next()) },
                "--heartbeat-ms" => options with { HeartbeatMs = (uint)Int(Next()) },
                "--ping-ms" => options with { PingMs = Int(Next()) },
                "--stake" => options with { Stake = Next() },
                "--receipts" => options with { ReceiptsFile = Next() },
                "--jobs" => options with { JobsFile = Next() },
                "--withhold-acks" => options with { WithholdAcks = true },
                _ => throw new ArgumentException($"unknown option {args[i]}; see tools/Scheduler/README.md"),
            };
        }

        return options;
    }
}
