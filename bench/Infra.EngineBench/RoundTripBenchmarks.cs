using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using Docker.DotNet;
using InfraMind.Node.Containers.Engine;

namespace InfraMind.Node.EngineBench;

/// <summary>
/// One Engine API round trip on a warm client: the node's <see cref="EngineClient"/> against Docker.DotNet's
/// <see cref="DockerClient"/> (the baseline of each category), both on Docker's Unix socket and both asking for
/// API 1.41. Ping is GET /_ping (answer "OK"); inspect is GET /images/{name}/json, which EngineClient reads
/// into its three-field slice (Id, RepoTags, Size) and Docker.DotNet into its full ImageInspectResponse.
/// </summary>
[MemoryDiagnoser]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
public class RoundTripBenchmarks
{
    private const string Socket = "/var/run/docker.sock";
    private const string Image = "inframind-test/probe:1";

    private EngineClient _engine = null!;
    private DockerClient _docker = null!;

    [GlobalSetup]
    public void Setup()
    {
        _engine = EngineClient.ConnectAsync(Socket, CancellationToken.None).GetAwaiter().GetResult();
        using var configuration = new DockerClientConfiguration(new Uri("unix://" + Socket));
        _docker = configuration.CreateClient(new Version(1, 41));
        if (_engine.ApiVersion != new Version(1, 41))
            throw new InvalidOperationException($"EngineClient settled on API {_engine.ApiVersion}; the comparison expects 1.41 on both sides");
        if (_engine.InspectImageAsync(Image, CancellationToken.None).GetAwaiter().GetResult() is null)
            throw new InvalidOperationException($"{Image} is not in the engine at {Socket}; run tests/fixtures/containers/build-images.sh");
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _engine.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _docker.Dispose();
    }

    [Benchmark(Baseline = true)]
    [BenchmarkCategory("Ping")]
    public Task DockerDotNetPing() => _docker.System.PingAsync();

    [Benchmark]
    [BenchmarkCategory("Ping")]
    public Task EngineClientPing() => _engine.PingAsync(CancellationToken.None);

    [Benchmark(Baseline = true)]
    [BenchmarkCategory("InspectImage")]
    public async Task<string?> DockerDotNetInspectImage() => (await _docker.Images.InspectImageAsync(Image).ConfigureAwait(false)).ID;

    [Benchmark]
    [BenchmarkCategory("InspectImage")]
    public async Task<string?> EngineClientInspectImage() => (await _engine.InspectImageAsync(Image, CancellationToken.None).ConfigureAwait(false))?.Id;
}
