using System.Diagnostics;
using System.Net;
using System.Text.Json;
using InfraMind.Node.Containers.Engine;
using InfraMind.Node.Containers.Sandbox;
using InfraMind.Node.Control;
using InfraMind.Node.Crypto;
using InfraMind.Node.Protos.Control;
using InfraMind.Node.Tests.Agent;
using InfraMind.Node.Tests.Examples;
using InfraMind.Node.Tests.Support;
using static InfraMind.Node.Tests.Agent.AgentApi;

namespace InfraMind.Node.Tests.Mesh;

/// <summary>
/// Issue #7 acceptance with the real node: NodeAgent (Docker, the sample embedder) dials the reference scheduler
/// (tools/Scheduler) over real sockets, registers, heartbeats, runs the jobs the scheduler assigns and delivers
/// every receipt until it is acknowledged; the scheduler verifies the hello and receipt signatures.
/// </summary>
[Collection(TimingGroup.Name)]
#pragma warning disable CA1001 // disposed in IAsyncLifetime.DisposeAsync, which xunit calls
public sealed class MeshAgentTests : IAsyncLifetime
#pragma warning restore CA1001
{
    private const uint HeartbeatMs = 1000;
    private readonly TempFolder _dir = new();
    private readonly TempFolder _nodeRoot = new();
    private readonly int _port = FreePorts.Next();
    private readonly int _adminPort = FreePorts.Next();
    private readonly NodeKey _key = NodeKey.Generate(new byte[32]);
    private readonly LocalHttpServer _server = new();
    private SchedulerProcess _scheduler = null!;
    private EngineClient _engine = null!;
    private AgentHost? _host;

    public async Task InitializeAsync()
    {
        _engine = await Engines.ConnectAsync("docker");
        _scheduler = await SchedulerProcess.StartAsync(_dir.Path, _port, _adminPort, HeartbeatMs);
    }

    public async Task DisposeAsync()
    {
        if (_host is not null)
            await _host.DisposeAsync();
        await _scheduler.DisposeAsync();

        // Nothing of this node's may outlive the test (a failure can leave a container behind).
        foreach (ContainerSummary c in await _engine.ListContainersAsync(SandboxSpec.NodeLabel, _key.Address.ToString(), CancellationToken.None))
        {
            try
            {
                await _engine.RemoveContainerAsync(c.Id!, CancellationToken.None);
            }
            catch (EngineException)
            {
            }
        }

        await _engine.DisposeAsync();
        _server.Dispose();
        _key.Dispose();
        _nodeRoot.Dispose();
        _dir.Dispose();
    }

    private string Log => _host?.Log ?? "";

    [Fact]
    public async Task The_real_node_registers_heartbeats_runs_assigned_jobs_and_delivers_every_receipt_until_acked()
    {
        EmbedderBundle bundle = EmbedderArtifacts.Bundle("stdio");
        Uri bundleUri = _server.Serve("/embedder-stdio.tar.gz", new LocalHttpServer.Answer(await File.ReadAllBytesAsync(bundle.Archive)));
        _host = await AgentHost.StartAsync(_nodeRoot.Path, "docker", _key, _scheduler.Address, new Uri($"http://127.0.0.1:{_port}"));
        string node = _key.Address.ToString();

        // Registration: a hello the scheduler verified, from this node's address, then heartbeats at the welcome's interval.
        SeenEvent hello = await _scheduler.WaitForAsync(e => e.Kind == "hello", TimeSpan.FromSeconds(15), "the node's hello");
        Assert.True(hello.Valid, $"hello refused: {hello.Detail}\n{Log}");
        Assert.Equal(node, hello.Node);
        await _scheduler.WaitForAsync(e => e.Kind == "heartbeat" && e.Node == node, TimeSpan.FromSeconds(5), "a first heartbeat");
        await Task.Delay(TimeSpan.FromMilliseconds(HeartbeatMs * 5.2));
        long[] at = (await _scheduler.EventsAsync()).Where(e => e.Kind == "heartbeat" && e.Node == node).Select(e => e.AtMs).ToArray();
        Assert.True(at.Length >= 5, $"only {at.Length} heartbeats in 5 intervals");
        double[] gaps = HeartbeatSchedule.AssertKept(at, HeartbeatMs);
        Console.WriteLine($"mesh e2e: heartbeat gaps {string.Join(", ", gaps)} ms");

        // `infra status` reads the link over the control plane: connected, and to which scheduler.
        using (ControlClient control = ControlClient.Open(Path.Combine(_nodeRoot.Path, "control.sock")))
        {
            StatusReply status = await control.Client.GetStatusAsync(new GetStatusRequest(), ControlClient.UnaryOptions(default));
            Assert.Equal(MeshState.Connected, status.Mesh.State);
            Assert.Equal($"http://127.0.0.1:{_port}/", status.Mesh.Endpoint);
        }

        // Two stdio embedder jobs assigned by the scheduler (it signs them), each acked by the node.
        string[] ids = [$"mesh-e2e-1-{Guid.NewGuid().ToString("N")[..8]}", $"mesh-e2e-2-{Guid.NewGuid().ToString("N")[..8]}"];
        string[] texts = ["the quick brown fox over the mesh", "ünïcode ✓ — second mesh job"];
        ulong deadline = (ulong)DateTimeOffset.UtcNow.AddSeconds(120).ToUnixTimeSeconds();
        for (int i = 0; i < ids.Length; i++)
        {
            string draft = Draft(ids[i], bundle.ModelHash, bundleUri, texts[i], deadline, node);
            await _scheduler.PostAsync("/admin/jobs", draft);
        }

        foreach (string id in ids)
        {
            SeenEvent ack = await _scheduler.WaitForAsync(e => e.Kind == "ack" && e.JobId == id, TimeSpan.FromSeconds(5), $"the ack of {id}");
            Assert.Equal(node, ack.Node);
        }

        Assert.DoesNotContain(await _scheduler.EventsAsync(), e => e.Kind == "rejection");

        // Each receipt arrives with a signature that recovers to the node, is stored once, and is acked.
        foreach (string id in ids)
        {
            SeenEvent receipt = await _scheduler.WaitForAsync(e => e.Kind == "receipt" && e.JobId == id, TimeSpan.FromSeconds(90), $"the receipt of {id}");
            Assert.True(receipt.Valid, $"receipt of {id} refused: {receipt.Detail}\n{Log}");
            Assert.Equal("stored", receipt.Detail);
        }

        Dictionary<string, JsonElement> stored = await StoredReceiptsAsync();
        Assert.Equal(ids.Order(), stored.Keys.Order());
        IReadOnlyList<double[]> reference = EmbedderArtifacts.Reference(texts);
        for (int i = 0; i < ids.Length; i++)
        {
            JsonElement r = stored[ids[i]];
            Assert.Equal("succeeded", r.GetProperty("status").GetString());
            Assert.Equal(node, r.GetProperty("node").GetString());
            Assert.Equal(bundle.ModelHash, r.GetProperty("model_ref").GetString());

            // The node's own record of the job agrees with what the scheduler stored, and the output is the embedder's.
            Answer job = await GetJobAsync(_host.Http, ids[i]);
            Assert.True(job.Status == HttpStatusCode.OK, $"GET /v1/jobs/{ids[i]}: {job.Text}");
            Assert.Equal("succeeded", State(job.Json));
            EmbedderArtifacts.AssertClose(reference[i], EmbedderArtifacts.ParseVector(job.Json.GetProperty("output").GetRawText()), ids[i]);
            JsonElement local = job.Json.GetProperty("receipt");
            Assert.Equal(local.GetProperty("output_hash").GetString(), r.GetProperty("output_hash").GetString());
            Assert.Equal(local.GetProperty("job_hash").GetString(), r.GetProperty("job_hash").GetString());
        }

        // The receipt_acks reached the node's receipt log: nothing is left to redeliver.
        JsonElement mesh = default;
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(5))
        {
            Answer status = await SendAsync(_host.Http, HttpMethod.Get, "v1/status", null, null);
            Assert.True(status.Status == HttpStatusCode.OK, status.Text);
            mesh = status.Json.GetProperty("mesh");
            if (mesh.GetProperty("unacked_receipts").GetInt64() == 0)
                break;
            await Task.Delay(50);
        }

        Assert.Equal(0, mesh.GetProperty("unacked_receipts").GetInt64());
        Assert.Equal("connected", mesh.GetProperty("state").GetString());
        Assert.Equal(0, mesh.GetProperty("reconnects").GetInt64());
        Assert.Single(await _scheduler.EventsAsync(), e => e.Kind == "hello");
        Assert.Equal(2, (await _scheduler.EventsAsync()).Count(e => e.Kind == "receipt"));
    }

    /// <summary>A POST /admin/jobs body (tools/Scheduler JobDraft); written by hand: no reflection JSON in this build.</summary>
    private static string Draft(string id, string modelHash, Uri bundle, string input, ulong deadline, string node)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("job_id", id);
            json.WriteString("model_hash", modelHash);
            json.WriteString("container_uri", bundle.ToString());
            json.WriteString("entrypoint", "stdio");
            json.WriteStartObject("expected_schema");
            json.WriteString("input", "text");
            json.WriteString("output", "embedding<float>");
            json.WriteEndObject();
            json.WriteString("input", input);
            json.WriteNumber("deadline", deadline);
            json.WriteString("node", node);
            json.WriteEndObject();
        }

        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>The scheduler's receipts file (proto field names, one JSON object a line), by job id.</summary>
    private async Task<Dictionary<string, JsonElement>> StoredReceiptsAsync() =>
        (await File.ReadAllLinesAsync(_dir["receipts.jsonl"]))
            .Select(l => JsonDocument.Parse(l).RootElement.Clone())
            .ToDictionary(r => r.GetProperty("job_id").GetString()!, StringComparer.Ordinal);
}
