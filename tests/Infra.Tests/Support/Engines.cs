using System.Diagnostics;
using InfraMind.Node.Containers.Engine;
using InfraMind.Node.Tests.Configuration;

namespace InfraMind.Node.Tests.Support;

/// <summary>
/// The real engines the container tests run against: Docker on /var/run/docker.sock and Podman on
/// /run/podman/podman.sock (`scripts/engines.sh start` brings both up; .ci/run does). The probe image
/// (tests/fixtures/containers) is built into both once per test run.
/// </summary>
public static class Engines
{
    public const string DockerSocket = "/var/run/docker.sock";
    public const string PodmanSocket = "/run/podman/podman.sock";
    public const string ProbeImage = "inframind-test/probe:1";

    private static readonly Lazy<string> ImagesBuilt = new(BuildProbeImages);

    public static TheoryData<string> Both => new() { "docker", "podman" };

    public static string ProbeArchive => Path.Combine(ConfigLoaderTests.RepoRoot(), "obj", "fixtures", "probe-image.tar");

    public static async Task<EngineClient> ConnectAsync(string engine)
    {
        _ = ImagesBuilt.Value;
        string socket = engine == "docker" ? DockerSocket : PodmanSocket;
        if (!File.Exists(socket))
            throw new InvalidOperationException($"{engine} is not running on {socket}: start it with `scripts/engines.sh start` (the container tests need both engines)");
        return await EngineClient.ConnectAsync(socket, CancellationToken.None);
    }

    private static string BuildProbeImages()
    {
        string script = Path.Combine(ConfigLoaderTests.RepoRoot(), "tests", "fixtures", "containers", "build-images.sh");
        var start = new ProcessStartInfo("bash", [script]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using Process process = Process.Start(start)!;
        string output = process.StandardOutput.ReadToEnd() + process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"building the probe image failed:\n{output}");
        return output;
    }
}
