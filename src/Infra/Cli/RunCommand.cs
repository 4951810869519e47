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
        var log = new AgentLog(Console.Error);
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
        await using NodeAgent agent = await NodeAgent.StartAsync(config, key, log, stop).ConfigureAwait(false);
        log.Info("ready");
        try
        {
            await Task.Delay(Timeout.Infinite, CancellationTokenSource.CreateLinkedTokenSource(stop, agent.Stopping).Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        await agent.StopAsync(NodeAgent.DrainGrace).ConfigureAwait(false);
        log.Info("stopped");
        return 0;
    }
}
