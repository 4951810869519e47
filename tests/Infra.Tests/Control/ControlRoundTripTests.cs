using System.Net.Sockets;
using System.Text.Json;
using Grpc.Core;
using InfraMind.Node.Cli;
using InfraMind.Node.Control;
using InfraMind.Node.Errors;
using InfraMind.Node.Protos.Control;
using InfraMind.Node.Agent;
using InfraMind.Node.Listener.Http;
using InfraMind.Node.Tests.Support;

namespace InfraMind.Node.Tests.Control;

/// <summary>
/// The CLI's real client (Grpc.Net.Client + GrpcWebHandler over HTTP/1.1 on a Unix socket) against
/// ControlService behind the node's own HTTP server and control endpoint: the whole path, with a fake plane.
/// </summary>
public sealed class ControlRoundTripTests : IAsyncLifetime, IDisposable
{
    private readonly TempFolder _temp = new();
    private readonly FakeControlPlane _plane = new();
    private HttpServer _server = null!;
    private readonly RecordingHandler _recorder = new();

    private string Socket => _temp["control.sock"];

    public Task InitializeAsync()
    {
        _recorder.Inner = new ControlEndpoint(new ControlService(_plane));
        _server = new HttpServer(_recorder);
        _server.Start([new UnixDomainSocketEndPoint(Socket)]);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        _temp.Dispose();
    }

    public void Dispose() => _temp.Dispose(); // also in DisposeAsync; twice is harmless

    [Fact]
    public async Task GetStatus_round_trips_through_grpc_web_on_the_unix_socket()
    {
        using ControlClient control = ControlClient.Open(Socket);
        StatusReply status = await control.Client.GetStatusAsync(new GetStatusRequest(), ControlClient.UnaryOptions(default));
        Assert.Equal(_plane.Status, status);
        Assert.Contains("POST /inframind.node.v1.Control/GetStatus", _recorder.Requests);
    }

    [Fact]
    public async Task A_refusal_reaches_the_client_as_its_status_and_message()
    {
        using ControlClient control = ControlClient.Open(Socket);
        RpcException e = await Assert.ThrowsAsync<RpcException>(async () =>
            await control.Client.DrainAsync(new DrainRequest { Resume = true }, ControlClient.UnaryOptions(default)));
        Assert.Equal(StatusCode.FailedPrecondition, e.StatusCode);
        Assert.Equal("the agent is not draining; nothing to resume", e.Status.Detail);
    }

    [Fact]
    public async Task WatchJobs_delivers_each_event_live_before_the_next_exists()
    {
        using ControlClient control = ControlClient.Open(Socket);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        using AsyncServerStreamingCall<JobEvent> call = control.Client.WatchJobs(new WatchJobsRequest(), cancellationToken: timeout.Token);
        for (int i = 1; i <= 4; i++)
        {
            // The next event is pushed only after the previous one arrived: nothing can be batched at the end.
            _plane.Push(new JobEvent { TimestampMs = (ulong)i, PreviousState = JobState.Queued, Job = new JobSummary { JobId = $"job-{i}", State = JobState.Running } });
            Assert.True(await call.ResponseStream.MoveNext(timeout.Token));
            Assert.Equal($"job-{i}", call.ResponseStream.Current.Job.JobId);
        }

        _plane.Push(new JobEvent()); // the plane ends the stream
        Assert.False(await call.ResponseStream.MoveNext(timeout.Token));
        Assert.Equal(StatusCode.OK, call.GetStatus().StatusCode);
    }

    [Fact]
    public async Task A_client_that_stops_watching_ends_the_planes_enumeration()
    {
        using (ControlClient control = ControlClient.Open(Socket))
        {
            using var watching = new CancellationTokenSource();
            using AsyncServerStreamingCall<JobEvent> call = control.Client.WatchJobs(new WatchJobsRequest(), cancellationToken: watching.Token);
            _plane.Push(new JobEvent { Job = new JobSummary { JobId = "one" } });
            Assert.True(await call.ResponseStream.MoveNext(default));
            await watching.CancelAsync();
        }

        for (int i = 0; i < 200 && Volatile.Read(ref _plane.WatchersEnded) == 0; i++)
            await Task.Delay(25);
        Assert.Equal(1, Volatile.Read(ref _plane.WatchersEnded));
    }

    [Fact]
    public async Task Infra_status_prints_the_seed_block_then_the_rest()
    {
        var output = new StringWriter();
        Assert.Equal(0, await StatusCommand.RunAsync(Socket, json: false, output, default));
        string[] lines = output.ToString().Split('\n');
        Assert.Equal(
            [
                "Node ID:        0xB71c3f4A5b6C7d8E9f0A1b2C3d4E5f6A7b8C9d0E",
                "Jobs Served:    1,284",
                "Avg Latency:    182ms",
                "Uptime:         3d 4h 12m",
                "Stake:          512 INFRA",
                "Region:         europe-west",
            ],
            lines[..6]);
        string rest = string.Join('\n', lines[6..]);
        Assert.Contains("Active Jobs:    2", rest, StringComparison.Ordinal);
        Assert.Contains("Queue:          5 waiting", rest, StringComparison.Ordinal);
        Assert.Contains("Cache Hits:     87.5%", rest, StringComparison.Ordinal);
        Assert.Contains("Mesh:           connected to https://sched.example:443 (heartbeat 1.2s ago, 3 reconnects, 1 unacked receipts)", rest, StringComparison.Ordinal);
        Assert.Contains("Memory:         50.0% of the host; agent resident 45", rest, StringComparison.Ordinal);
        Assert.Contains("Draining:       no", rest, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Infra_status_json_has_the_v1_status_names()
    {
        var output = new StringWriter();
        Assert.Equal(0, await StatusCommand.RunAsync(Socket, json: true, output, default));
        using JsonDocument json = JsonDocument.Parse(output.ToString());
        JsonElement root = json.RootElement;
        Assert.Equal("0xB71c3f4A5b6C7d8E9f0A1b2C3d4E5f6A7b8C9d0E", root.GetProperty("node_id").GetString());
        Assert.Equal(1284UL, root.GetProperty("jobs_served").GetUInt64());
        Assert.Equal(182.4, root.GetProperty("avg_latency_ms").GetDouble());
        Assert.Equal(274327UL, root.GetProperty("uptime_s").GetUInt64());
        Assert.Equal("512 INFRA", root.GetProperty("stake").GetString());
        Assert.Equal("europe-west", root.GetProperty("region").GetString());
        Assert.Equal(0.875, root.GetProperty("cache_hit_ratio").GetDouble());
        Assert.Equal("connected", root.GetProperty("mesh").GetProperty("state").GetString());
        Assert.Equal(1, root.GetProperty("mesh").GetProperty("unacked_receipts").GetInt32());
        Assert.False(root.GetProperty("draining").GetBoolean());
    }

    [Fact]
    public async Task Infra_jobs_and_watch_and_drain_print_what_the_agent_said()
    {
        var list = new StringWriter();
        Assert.Equal(0, await JobsCommand.ListAsync(Socket, new ListJobsRequest { IncludeFinished = true }, json: false, list, default));
        Assert.Contains("a6b4-23fa", list.ToString(), StringComparison.Ordinal);
        Assert.Contains("running", list.ToString(), StringComparison.Ordinal);
        Assert.True(_plane.LastListJobs!.IncludeFinished);

        var drain = new StringWriter();
        Assert.Equal(0, await DrainCommand.RunAsync(Socket, resume: false, drain, default));
        Assert.StartsWith("draining: new jobs are refused; 2 running and 1 queued", drain.ToString(), StringComparison.Ordinal);

        var watch = new StringWriter();
        _plane.Push(new JobEvent { TimestampMs = 1_700_000_000_000, PreviousState = JobState.Running, Job = new JobSummary { JobId = "j1", State = JobState.OutputInvalid, ModelHash = "sha256:ab", Detail = "output is not json" } });
        _plane.Push(new JobEvent());
        Assert.Equal(0, await JobsCommand.WatchAsync(Socket, json: false, watch, default));
        Assert.Equal("2023-11-14 22:13:20  j1  running -> output_invalid  sha256:ab  (output is not json)\n", watch.ToString().Replace("\r", "", StringComparison.Ordinal));
    }

    [Fact]
    public async Task No_socket_is_one_clear_runtime_error()
    {
        string missing = _temp["nothing-here.sock"];
        InfraException e = await Assert.ThrowsAsync<InfraException>(() => StatusCommand.RunAsync(missing, false, new StringWriter(), default));
        Assert.Equal(1, e.ExitCode);
        Assert.Equal($"the agent is not running: no control socket at {missing}; start it with `infra run`", e.Message);
    }

    [Fact]
    public async Task A_socket_nobody_listens_on_is_one_clear_runtime_error()
    {
        // As a socket file left behind by an agent that died: it exists, but connecting is refused. (Bound and
        // never listening; kept open because .NET unlinks the file when the socket that bound it is disposed.)
        string stale = _temp["stale.sock"];
        using var bound = new System.Net.Sockets.Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        bound.Bind(new UnixDomainSocketEndPoint(stale));
        InfraException e = await Assert.ThrowsAsync<InfraException>(() => StatusCommand.RunAsync(stale, false, new StringWriter(), default));
        Assert.Equal(1, e.ExitCode);
        Assert.Equal($"the agent is not running: the control socket at {stale} refuses connections; start it with `infra run`", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void The_binary_says_so_in_one_line_and_exits_1()
    {
        string config = _temp.Write("config.yaml", $"control:\n  socket: {_temp["absent.sock"]}\n");
        InfraProcess.Result result = InfraProcess.Run(_temp.Path, null, "status", "--config", config);
        Assert.Equal(1, result.ExitCode);
        Assert.Equal($"infra: the agent is not running: no control socket at {_temp["absent.sock"]}; start it with `infra run`\n", result.StdErr);
        Assert.Empty(result.StdOut);
    }

    [Fact]
    public async Task The_binary_prints_status_from_the_agent()
    {
        // The process, not the method: with INFRA_BIN set this proves the AOT-compiled gRPC client works.
        string config = _temp.Write("config.yaml", $"control:\n  socket: {Socket}\n");
        InfraProcess.Result result = await Task.Run(() => InfraProcess.Run(_temp.Path, null, "status", "--config", config));
        Assert.True(result.ExitCode == 0, result.StdErr);
        Assert.StartsWith("Node ID:        0xB71c3f4A5b6C7d8E9f0A1b2C3d4E5f6A7b8C9d0E\nJobs Served:    1,284\n", result.StdOut, StringComparison.Ordinal);
    }
}

/// <summary>Remembers "METHOD /path" of each request, then hands it to the real endpoint.</summary>
internal sealed class RecordingHandler : IHttpHandler
{
    private readonly System.Collections.Concurrent.ConcurrentQueue<string> _requests = new();

    public IHttpHandler Inner { get; set; } = null!;

    public IReadOnlyCollection<string> Requests => _requests.ToArray();

    public ValueTask HandleAsync(HttpExchange exchange, CancellationToken ct)
    {
        _requests.Enqueue($"{exchange.Method.ToString().ToUpperInvariant()} {exchange.Path}");
        return Inner.HandleAsync(exchange, ct);
    }
}
