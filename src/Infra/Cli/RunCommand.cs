using System.Runtime.InteropServices;
using InfraMind.Node.Agent;
using InfraMind.Node.Configuration;
using InfraMind.Node.Crypto;

namespace InfraMind.Node.Cli;

/// <summary>`infra run`: the agent in the foreground (what systemd runs).</summary>
public static class RunCommand
{
    public static readonly CommandSpec Spec = new(
        "run",
        "run the node agent in the foreground",
        "infra run [--config PATH]",
        [
            new("--config", "PATH", "configuration file (default: /etc/inframind/config.yaml, then ~/.inframind/config.yaml)"),
            new("--help", null, "show this help"),
        ],
        Run);

    private static int Run(ParsedArguments args)
    {
        NodeConfig config = Program.LoadConfig(args);
        using NodeKey key = IdentityFile.Load(config.Node.Identity);
        var log = new AgentLog(Console.Error, config.Log.Level);
        log.Info($"node {key.Address} (region {config.Node.Region}, version {BuildInfo.Version}, config: {config.Source})");

        // SIGTERM (systemd stop) and SIGINT (Ctrl-C) both mean: drain, then exit 0.
        using var stop = new CancellationTokenSource();
        using PosixSignalRegistration term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
        using PosixSignalRegistration interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
        return ServeAsync(config, key, log, stop.Token).GetAwaiter().GetResult();

        void Stop(PosixSignalContext context)
        {
            context.Cancel = true;
            stop.Cancel();
        }
    }

    private static async Task<int> ServeAsync(NodeConfig config, NodeKey key, AgentLog log, CancellationToken stop)
    {
        using SystemdNotifier systemd = SystemdNotifier.FromEnvironment();
        await using NodeAgent agent = await NodeAgent.StartAsync(config, key, log, stop).ConfigureAwait(false);
        systemd.Ready($"serving on {agent.PublicEndPoint} as {key.Address}");
        log.Info("ready");
        StartupPageRelease.Outcome released = StartupPageRelease.Run();
        log.Info($"start-up pages unmapped: {released.ReleasedKiB / 1024.0:F1} MiB of code and read-only data in {released.Regions} mappings (they stay in the page cache)");
        using var running = CancellationTokenSource.CreateLinkedTokenSource(stop, agent.Stopping);
        try
        {
            // The watchdog is fed from the serving loop: a wedged agent stops feeding it and systemd restarts it.
            TimeSpan beat = SystemdNotifier.WatchdogInterval() is { } interval ? interval / 2 : TimeSpan.FromSeconds(30);
            while (true)
            {
                await Task.Delay(beat, running.Token).ConfigureAwait(false);
                systemd.Watchdog();
                systemd.Status($"serving: {agent.Pipeline.Board.ActiveCount} running, {agent.Pipeline.Board.QueuedCount} queued");
            }
        }
        catch (OperationCanceledException)
        {
        }

        systemd.Stopping("draining: finishing running jobs");
        await agent.StopAsync(NodeAgent.DrainGrace).ConfigureAwait(false);
        log.Info("stopped");
        return 0;
    }
}
