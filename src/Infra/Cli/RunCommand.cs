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
        Console.Error.WriteLine($"node {key.Address} (region {config.Node.Region}, config: {config.Source})");

        // The configuration and the key are checked above, so an operator can already validate a host with
        // `infra run`; the serving loop (listener, engine, mesh) is not part of this build yet.
        ThrowHelper.ThrowRuntime("the agent's serving loop (listener, runtime, mesh link) is not in this build yet; use `infra doctor` to check the host");
        return 1;
    }
}
