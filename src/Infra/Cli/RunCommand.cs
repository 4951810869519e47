using InfraMind.Node.Configuration;
using InfraMind.Node.Containers;
using InfraMind.Node.Containers.Engine;
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

    /// <summary>
    /// A previous agent that crashed or was killed may have left job containers behind: no job is live at
    /// startup, so every container labelled for this node goes.
    /// </summary>
    private static void SweepOrphans(NodeConfig config, Address node)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        EngineClient engine = EngineLocator.ConnectAsync(config, HostPaths.Current(), timeout.Token).GetAwaiter().GetResult();
        try
        {
            IReadOnlyList<string> removed = new Reconciler(engine, node).SweepAsync(new HashSet<string>(), timeout.Token).GetAwaiter().GetResult();
            Console.Error.WriteLine($"engine: {engine.Kind.ToString().ToLowerInvariant()} {engine.EngineVersion} at {engine.SocketPath}; removed {removed.Count} orphaned job container(s)");
        }
        finally
        {
            engine.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
    }

    private static int Run(ParsedArguments args)
    {
        NodeConfig config = Program.LoadConfig(args);
        using NodeKey key = IdentityFile.Load(config.Node.Identity);
        Console.Error.WriteLine($"node {key.Address} (region {config.Node.Region}, config: {config.Source})");
        SweepOrphans(config, key.Address);

        // Startup is real up to here (configuration, key, engine, orphan sweep); the serving loop (listener,
        // job intake, mesh link) is not part of this build yet.
        ThrowHelper.ThrowRuntime("the agent's serving loop (listener, job intake, mesh link) is not in this build yet; use `infra doctor` to check the host");
        return 1;
    }
}
