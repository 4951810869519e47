using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using InfraMind.Node.Agent;
using InfraMind.Node.Configuration;
using InfraMind.Node.Containers.Engine;
using InfraMind.Node.Containers.Sandbox;
using InfraMind.Node.Crypto;
using InfraMind.Node.Crypto.Eip712;
using InfraMind.Node.Tests.Support;

namespace InfraMind.Node.Tests.Agent;

/// <summary>
/// A real node in this process: NodeAgent on a config under a temp folder (port 0, its own control socket,
/// state and cache), driven over real HTTP. The engine is the real Docker or Podman.
/// </summary>
public sealed class AgentHost : IAsyncDisposable
{
    private readonly StringWriter _logText;

    private AgentHost(NodeAgent agent, StringWriter logText, string stateDir)
    {
        Agent = agent;
        _logText = logText;
        StateDir = stateDir;
        var endpoint = (IPEndPoint)agent.PublicEndPoint!;
        Http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{endpoint.Port}/"), Timeout = TimeSpan.FromSeconds(120) };
    }

    public NodeAgent Agent { get; }

    public HttpClient Http { get; }

    public string StateDir { get; }

    /// <summary>What the agent logged so far: attached to failures.</summary>
    public string Log
    {
        get
        {
            lock (_logText)
                return _logText.ToString();
        }
    }

    /// <param name="mesh">A scheduler to dial (mesh.endpoints); null leaves the node standalone.</param>
    public static NodeConfig Config(string root, string engine, Address trusted, Uri? mesh = null)
    {
        var config = new NodeConfig(new HostPaths(root, IsRoot: false));
        config.Node.StateDir = Path.Combine(root, "state");
        config.Node.Identity = Path.Combine(root, "identity.key");
        config.Control.Socket = Path.Combine(root, "control.sock");
        config.Listener.Bind = "127.0.0.1";
        config.Listener.Port = 0;
        config.Mesh.TrustedSchedulers = [trusted];
        config.Mesh.Endpoints = mesh is null ? [] : [mesh];
        config.Runtime.Engine = engine == "docker" ? EngineChoice.Docker : EngineChoice.Podman;
        config.Runtime.Socket = engine == "docker" ? Engines.DockerSocket : Engines.PodmanSocket;
        config.Registry.IpfsGateways = []; // nothing outside this machine is reached
        return config;
    }

    public static async Task<AgentHost> StartAsync(string root, string engine, NodeKey key, Address trusted, Uri? mesh = null)
    {
        NodeConfig config = Config(root, engine, trusted, mesh);
        var text = new StringWriter();
        var log = new AgentLog(TextWriter.Synchronized(text));
        NodeAgent agent = await NodeAgent.StartAsync(config, key, log, CancellationToken.None);
        return new AgentHost(agent, text, config.Node.StateDir);
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await Agent.StopAsync(TimeSpan.FromSeconds(5));
        await Agent.DisposeAsync();
    }
}

/// <summary>Calls on the public REST port as a scheduler or a client makes them.</summary>
public static class AgentApi
{
    public static readonly string[] FinalStates = ["succeeded", "output_invalid", "failed", "rejected", "timed_out", "cancelled"];

    public sealed record Answer(HttpStatusCode Status, JsonElement Json, string Text);

    public static Task<Answer> PostAsync(HttpClient http, byte[] body, bool wait = false, string contentType = "application/json") =>
        SendAsync(http, HttpMethod.Post, wait ? "v1/jobs?wait=true" : "v1/jobs", body, contentType);

    public static Task<Answer> GetJobAsync(HttpClient http, string jobId) =>
        SendAsync(http, HttpMethod.Get, "v1/jobs/" + Uri.EscapeDataString(jobId), null, null);

    public static async Task<Answer> SendAsync(HttpClient http, HttpMethod method, string path, byte[]? body, string? contentType)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null)
        {
            request.Content = new ByteArrayContent(body);
            if (contentType is not null)
                request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        }

        using HttpResponseMessage response = await http.SendAsync(request);
        string text = await response.Content.ReadAsStringAsync();
        JsonElement json = text.Length > 0 && text[0] == '{' ? JsonDocument.Parse(text).RootElement.Clone() : default;
        return new Answer(response.StatusCode, json, text);
    }

    /// <summary>Polls GET /v1/jobs/{id} until the job is final; fails the test past <paramref name="timeout"/>.</summary>
    public static async Task<JsonElement> WaitFinalAsync(HttpClient http, string jobId, TimeSpan timeout, Func<string>? log = null)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            Answer answer = await GetJobAsync(http, jobId);
            Assert.True(answer.Status == HttpStatusCode.OK, $"GET /v1/jobs/{jobId}: {(int)answer.Status} {answer.Text}");
            string state = answer.Json.GetProperty("state").GetString()!;
            if (FinalStates.Contains(state))
                return answer.Json;
            if (clock.Elapsed > timeout)
                Assert.Fail($"job {jobId} is still {state} after {timeout.TotalSeconds} s\n{log?.Invoke()}");
            await Task.Delay(50);
        }
    }

    public static string State(JsonElement job) => job.GetProperty("state").GetString()!;

    /// <summary>The signed rejection in an error body recovers to the node and names the reason.</summary>
    public static void AssertSignedRejection(JsonElement rejection, Address node, string reason, string jobId)
    {
        Assert.Equal(jobId, rejection.GetProperty("job_id").GetString());
        Assert.Equal(reason, rejection.GetProperty("reason").GetString());
        JsonElement m = rejection.GetProperty("eip712").GetProperty("message");
        Assert.True(Hash32.TryParse(m.GetProperty("jobHash").GetString(), out Hash32 jobHash));
        Assert.True(Address.TryParse(m.GetProperty("node").GetString(), out Address signedNode));
        ulong timestamp = ulong.Parse(m.GetProperty("timestamp").GetString()!, System.Globalization.CultureInfo.InvariantCulture);
        var message = new RejectionStruct(m.GetProperty("jobId").GetString()!, jobHash, m.GetProperty("reason").GetString()!, signedNode, timestamp);
        Assert.Equal(reason, message.Reason);
        Hash32 digest = new Eip712Domain(NodeConfig.DefaultChainId).Digest(message);
        byte[] signature = Hex.TryDecode(rejection.GetProperty("signature").GetString()!)!;
        Assert.True(EthSignature.TryRecover(digest, signature, out Address signer, out SignatureError error), $"rejection signature: {error}");
        Assert.Equal(node, signer);
    }
}

/// <summary>
/// Counts the containers the engine creates for one node (an event stream filtered by the node label):
/// "did this job reach the engine?" answered by the engine itself.
/// </summary>
public sealed class ContainerCreations : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _stream;
    private int _count;

    private ContainerCreations(EngineClient engine, Address node)
    {
        var filters = new Dictionary<string, List<string>>
        {
            ["type"] = ["container"],
            ["event"] = ["create"],
            ["label"] = [$"{SandboxSpec.NodeLabel}={node}"],
        };
        _stream = engine.StreamEventsAsync(filters, m =>
        {
            if (m.Status == "create")
                Interlocked.Increment(ref _count);
        }, _stop.Token);
    }

    public int Count => Volatile.Read(ref _count);

    public static async Task<ContainerCreations> StartAsync(EngineClient engine, Address node)
    {
        var counter = new ContainerCreations(engine, node);
        await Task.Delay(200); // the subscription is open before anything is submitted
        return counter;
    }

    /// <summary>Events arrive a moment after the fact: wait that long before reading a "nothing happened".</summary>
    public async Task<int> SettledCountAsync()
    {
        await Task.Delay(500);
        return Count;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try
        {
            await _stream;
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or EngineException)
        {
        }

        _stop.Dispose();
    }
}

/// <summary>Runs tests/vectors/merkle/verify-receipts.mjs (ethers, @openzeppelin/merkle-tree) on a folder.</summary>
public static class ReferenceVerifier
{
    public static async Task<string?> VerifyAsync(string folder)
    {
        string dir = Path.Combine(Configuration.ConfigLoaderTests.RepoRoot(), "tests", "vectors", "merkle");
        if (!Directory.Exists(Path.Combine(dir, "node_modules", "@openzeppelin", "merkle-tree")))
        {
            using Process npm = Process.Start(new ProcessStartInfo("npm", "ci --no-audit --no-fund --silent") { WorkingDirectory = dir })!;
            await npm.WaitForExitAsync();
            Assert.True(npm.ExitCode == 0, "npm ci in tests/vectors/merkle failed");
        }

        var start = new ProcessStartInfo("node") { WorkingDirectory = dir, RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add("verify-receipts.mjs");
        start.ArgumentList.Add(folder);
        using Process process = Process.Start(start)!;
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        string output = await stdout + await stderr;
        Assert.True(process.ExitCode == 0, "verify-receipts.mjs failed:\n" + output);
        return output;
    }

    public static byte[] Utf8(string s) => Encoding.UTF8.GetBytes(s);
}
