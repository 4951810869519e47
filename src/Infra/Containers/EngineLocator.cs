using InfraMind.Node.Configuration;
using InfraMind.Node.Containers.Engine;

namespace InfraMind.Node.Containers;

/// <summary>Finds the engine the configuration names: runtime.socket if set, else the first socket that answers.</summary>
public static class EngineLocator
{
    public const string DockerSocket = "/var/run/docker.sock";
    public const string PodmanSocket = "/run/podman/podman.sock";

    /// <summary>The sockets tried, in order, for runtime.engine (auto: Docker's, then Podman's).</summary>
    public static IReadOnlyList<string> Candidates(NodeConfig config, HostPaths host)
    {
        if (config.Runtime.Socket is { } configured)
            return [configured];
        var podman = new List<string> { PodmanSocket };
        string? runtimeDir = Environment.GetEnvironmentVariable("XDG_RUNTIME_DIR");
        if (!host.IsRoot && !string.IsNullOrEmpty(runtimeDir))
            podman.Add(Path.Combine(runtimeDir, "podman", "podman.sock"));
        return config.Runtime.Engine switch
        {
            EngineChoice.Docker => [DockerSocket],
            EngineChoice.Podman => podman,
            _ => [DockerSocket, .. podman],
        };
    }

    public static async Task<EngineClient> ConnectAsync(NodeConfig config, HostPaths host, CancellationToken cancellationToken)
    {
        var problems = new List<string>();
        foreach (string socket in Candidates(config, host))
        {
            if (!File.Exists(socket))
            {
                problems.Add($"{socket}: no such socket");
                continue;
            }

            try
            {
                EngineClient client = await EngineClient.ConnectAsync(socket, cancellationToken).ConfigureAwait(false);
                if (config.Runtime.Engine == EngineChoice.Docker && client.Kind != EngineKind.Docker
                    || config.Runtime.Engine == EngineChoice.Podman && client.Kind != EngineKind.Podman)
                {
                    problems.Add($"{socket}: answers as {client.Kind}, but runtime.engine is {config.Runtime.Engine.ToString().ToLowerInvariant()}");
                    await client.DisposeAsync().ConfigureAwait(false);
                    continue;
                }

                return client;
            }
            catch (EngineException e)
            {
                problems.Add($"{socket}: {e.Message}");
            }
        }

        throw new EngineException(EngineError.Unreachable,
            $"no container engine answers ({string.Join("; ", problems)}); fix: start Docker or Podman, or set runtime.socket");
    }
}
