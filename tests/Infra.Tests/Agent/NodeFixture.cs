using InfraMind.Node.Containers.Engine;
using InfraMind.Node.Containers.Sandbox;
using InfraMind.Node.Crypto;
using InfraMind.Node.Jobs.Intake;
using InfraMind.Node.Tests.Examples;
using InfraMind.Node.Tests.Support;

namespace InfraMind.Node.Tests.Agent;

/// <summary>
/// One node for a whole test class: a fresh key, a trusted test scheduler, an HTTP server that serves the
/// bundles, and a counter of the containers the engine creates for this node.
/// </summary>
public abstract class NodeFixture : IAsyncLifetime
{
    private readonly List<TempFolder> _bundleFolders = [];
    private readonly byte[] _secret = new byte[32];
    private readonly Dictionary<string, (Uri, string)> _probes = new(StringComparer.Ordinal);

    protected NodeFixture(string engine)
    {
        EngineName = engine;
        Key = NodeKey.Generate(_secret);
    }

    public string EngineName { get; }

    public TempFolder Temp { get; } = new();

    public SignedJobs Scheduler { get; } = new();

    public NodeKey Key { get; }

    public Address Node => Key.Address;

    public LocalHttpServer Server { get; } = new();

    public AgentHost Host { get; private set; } = null!;

    public EngineClient Engine { get; private set; } = null!;

    public ContainerCreations Creations { get; private set; } = null!;

    public HttpClient Http => Host.Http;

    public async Task InitializeAsync()
    {
        Engine = await Engines.ConnectAsync(EngineName); // also builds the probe image once
        foreach (string protocol in new[] { "stdio", "rest" })
        {
            EmbedderBundle bundle = EmbedderArtifacts.Bundle(protocol);
            Server.Serve($"/embedder-{protocol}.tar.gz", new LocalHttpServer.Answer(await File.ReadAllBytesAsync(bundle.Archive)));
        }

        Creations = await ContainerCreations.StartAsync(Engine, Node);
        Host = await AgentHost.StartAsync(Temp.Path, EngineName, Key, Scheduler.Scheduler);
    }

    public Uri BundleUri(string protocol) => new(Server.BaseUri, $"/embedder-{protocol}.tar.gz");

    public static string BundlePath(string protocol) => $"/embedder-{protocol}.tar.gz";

    /// <summary>A probe-image bundle with this model.yaml, served at /{name}.tar.gz; its image is tagged for this test run.</summary>
    public (Uri Uri, string ModelHash) ProbeBundle(string name, string manifest, bool uniqueImage = false)
    {
        lock (_probes)
        {
            if (!_probes.TryGetValue(name, out (Uri, string) made))
                _probes[name] = made = MakeProbeBundle(name, manifest, uniqueImage);
            return made;
        }
    }

    private (Uri Uri, string ModelHash) MakeProbeBundle(string name, string manifest, bool uniqueImage)
    {
        var folder = new TempFolder();
        _bundleFolders.Add(folder);
        string tag = $"inframind-test/e2e-{name}:{Guid.NewGuid().ToString("N")[..8]}";
        (byte[] archive, string modelHash) = TestBundles.Pack(TestBundles.CreateFolder(folder, tag, manifest, uniqueImage));
        Uri uri = Server.Serve($"/{name}.tar.gz", new LocalHttpServer.Answer(archive));
        return (uri, modelHash);
    }

    /// <summary>A job for this node, signed by the trusted scheduler.</summary>
    public JobRequest Job(string prefix, string modelHash, Uri bundle, string input, string entrypoint = "",
        string inputSchema = "text", string outputSchema = "embedding<float>", ulong? deadline = null, Address? node = null, SignedJobs? signer = null)
    {
        string id = $"{prefix}-{Guid.NewGuid().ToString("N")[..10]}";
        ulong due = deadline ?? (ulong)DateTimeOffset.UtcNow.AddMinutes(2).ToUnixTimeSeconds();
        SignedJobs by = signer ?? Scheduler;
        return by.Sign(new JobRequest(id, modelHash, bundle.ToString(), entrypoint, inputSchema, outputSchema, input, due, node ?? Node, by.Scheduler, []));
    }

    public async Task<List<ContainerSummary>> ContainersOfJobAsync(string jobId) =>
        await Engine.ListContainersAsync(SandboxSpec.JobLabel, jobId, CancellationToken.None);

    public async Task DisposeAsync()
    {
        await Host.DisposeAsync();
        await Creations.DisposeAsync();

        // Nothing of this node's may outlive the tests (a failed test can leave a container behind).
        foreach (ContainerSummary c in await Engine.ListContainersAsync(SandboxSpec.NodeLabel, Node.ToString(), CancellationToken.None))
        {
            try
            {
                await Engine.RemoveContainerAsync(c.Id!, CancellationToken.None);
            }
            catch (EngineException)
            {
            }
        }

        await Engine.DisposeAsync();
        Server.Dispose();
        Scheduler.Dispose();
        Key.Dispose();
        foreach (TempFolder folder in _bundleFolders)
            folder.Dispose();
        Temp.Dispose();
    }
}

public sealed class DockerNodeFixture() : NodeFixture("docker");

public sealed class PodmanNodeFixture() : NodeFixture("podman");
