using InfraMind.Node.Configuration;
using InfraMind.Node.Crypto;

namespace InfraMind.Node.Cli;

/// <summary>`infra init --keygen`: creates the node key and prints the node ID (CONTRACT.md §1–2).</summary>
public static class InitCommand
{
    public static readonly CommandSpec Spec = new(
        "init",
        "create the node's identity key and print its node ID",
        "infra init --keygen [--identity PATH] [--force] [--config PATH]",
        [
            new("--keygen", null, "generate a new secp256k1 key (required)"),
            new("--identity", "PATH", "where to write the key (default: node.identity, ~/.inframind/identity.key)"),
            new("--force", null, "replace an existing key; the node gets a new ID"),
            new("--config", "PATH", "configuration file to read node.identity from"),
            new("--help", null, "show this help"),
        ],
        Run);

    private static int Run(ParsedArguments args)
    {
        if (!args.Has("--keygen"))
            ThrowHelper.ThrowUsage("infra init: nothing to do; add --keygen to create the node's key");

        string path;
        if (args.Value("--identity") is { } explicitPath)
        {
            path = HostPaths.Current().Expand(explicitPath);
        }
        else
        {
            path = Program.LoadConfig(args).Node.Identity;
        }

        using NodeKey key = IdentityFile.Create(path, args.Has("--force"));
        Console.Error.WriteLine($"created identity key {path} (mode 0600); keep a backup: it is the node's identity");
        Console.Out.WriteLine(key.Address.ToString());
        return 0;
    }
}
