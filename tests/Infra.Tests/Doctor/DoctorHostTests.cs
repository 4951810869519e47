using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using InfraMind.Node.Configuration;
using InfraMind.Node.Doctor;
using InfraMind.Node.Tests.Mesh;
using InfraMind.Node.Tests.Support;

namespace InfraMind.Node.Tests.Doctor;

/// <summary>The doctor's probes against real things: TCP ports, Unix sockets, HTTP/2 servers with skewed clocks, the reference scheduler, engine sockets.</summary>
public sealed class DoctorHostTests : IDisposable
{
    private readonly TempFolder _dir = new();

    public void Dispose() => _dir.Dispose();

    // ---- listener port -------------------------------------------------------------------------------------------

    [Fact]
    public void A_port_held_by_another_process_fails_with_the_fix_and_a_free_one_passes()
    {
        using var holder = new TcpListener(IPAddress.Loopback, 0);
        holder.Start();
        int port = ((IPEndPoint)holder.LocalEndpoint).Port;

        CheckResult busy = PortChecks.ListenerPort("127.0.0.1", port, PortChecks.ControlState.Free);
        Assert.Equal(CheckOutcome.Failed, busy.Outcome);
        Assert.Equal($"127.0.0.1:{port} is in use by another process", busy.Detail);
        Assert.Equal($"stop what holds it (`ss -ltnp 'sport = :{port}'`) or set listener.port to a free port", busy.Fix);
        // The agent binds 0.0.0.0 by default: a holder on loopback alone still blocks it.
        Assert.Equal(CheckOutcome.Failed, PortChecks.ListenerPort("0.0.0.0", port, PortChecks.ControlState.Free).Outcome);

        CheckResult agent = PortChecks.ListenerPort("127.0.0.1", port, PortChecks.ControlState.AgentRunning);
        Assert.Equal(CheckOutcome.Warning, agent.Outcome);
        Assert.Contains("most likely by the running agent", agent.Detail, StringComparison.Ordinal);

        holder.Stop();
        Assert.Equal(CheckOutcome.Ok, PortChecks.ListenerPort("127.0.0.1", port, PortChecks.ControlState.Free).Outcome);
        // The probe let the port go again: the agent (here a listener) can take it right after.
        using var after = new TcpListener(IPAddress.Loopback, port);
        after.Start();
    }

    [Theory]
    [InlineData("not-an-ip", "is not an IP address")]
    [InlineData("192.0.2.7", "no interface of this host has 192.0.2.7")]
    public void A_bind_address_this_host_cannot_serve_fails(string bind, string detail)
    {
        CheckResult result = PortChecks.ListenerPort(bind, FreePorts.Next(), PortChecks.ControlState.Free);
        Assert.Equal(CheckOutcome.Failed, result.Outcome);
        Assert.Contains(detail, result.Detail, StringComparison.Ordinal);
        Assert.Contains("listener.bind", result.Fix, StringComparison.Ordinal);
    }

    // ---- control socket ------------------------------------------------------------------------------------------

    [Fact]
    public void Control_socket_free_live_stale_foreign_and_too_long()
    {
        string path = _dir["run/control.sock"];
        (CheckResult free, PortChecks.ControlState freeState) = PortChecks.ControlSocket(path);
        Assert.Equal((CheckOutcome.Ok, PortChecks.ControlState.Free), (free.Outcome, freeState));

        Directory.CreateDirectory(_dir["run"]);
        using (var server = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            server.Bind(new UnixDomainSocketEndPoint(path));
            server.Listen(4);
            (CheckResult live, PortChecks.ControlState liveState) = PortChecks.ControlSocket(path);
            Assert.Equal(PortChecks.ControlState.AgentRunning, liveState);
            Assert.Equal(CheckOutcome.Ok, live.Outcome);
            Assert.Contains("an agent is running", live.Detail, StringComparison.Ordinal);
        }

        // A socket file nobody answers on, as a killed agent leaves it (.NET unlinks on dispose, so a child binds and exits).
        File.Delete(path);
        using (Process python = Process.Start("python3", ["-c", "import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])", path])!)
        {
            python.WaitForExit();
            Assert.Equal(0, python.ExitCode);
        }

        Assert.True(Path.Exists(path));
        (CheckResult stale, PortChecks.ControlState staleState) = PortChecks.ControlSocket(path);
        Assert.Equal((CheckOutcome.Ok, PortChecks.ControlState.Stale), (stale.Outcome, staleState));

        File.Delete(path);
        File.WriteAllText(path, "not a socket");
        (CheckResult plain, _) = PortChecks.ControlSocket(path);
        Assert.Equal(CheckOutcome.Failed, plain.Outcome);
        Assert.Contains("is not a socket", plain.Detail, StringComparison.Ordinal);
        Assert.Equal("not a socket", File.ReadAllText(path)); // the check only looked

        string tooLong = _dir[new string('s', 120) + ".sock"];
        (CheckResult longResult, _) = PortChecks.ControlSocket(tooLong);
        Assert.Equal(CheckOutcome.Failed, longResult.Outcome);
        Assert.Equal("set control.socket to a shorter path", longResult.Fix);
    }

    [Fact]
    public void Control_socket_under_a_file_fails()
    {
        _dir.Write("file", "x");
        (CheckResult result, PortChecks.ControlState state) = PortChecks.ControlSocket(_dir["file/control.sock"]);
        Assert.Equal(PortChecks.ControlState.Unusable, state);
        Assert.Equal(CheckOutcome.Failed, result.Outcome);
    }

    // ---- clock skew ----------------------------------------------------------------------------------------------

    [Fact]
    public async Task Skew_is_skipped_without_endpoints()
    {
        CheckResult result = await ClockSkewCheck.RunAsync([], TimeSpan.FromSeconds(1));
        Assert.Equal(CheckOutcome.Skipped, result.Outcome);
        Assert.Contains("no mesh.endpoints", result.Detail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0, CheckOutcome.Ok)]
    [InlineData(12, CheckOutcome.Warning)]
    [InlineData(-120, CheckOutcome.Failed)]
    [InlineData(3600, CheckOutcome.Failed)]
    public async Task Skew_against_an_http2_server_with_a_shifted_clock(int serverAheadSeconds, CheckOutcome expected)
    {
        await using Http2DateServer server = Http2DateServer.Skewed(TimeSpan.FromSeconds(serverAheadSeconds));
        CheckResult result = await ClockSkewCheck.RunAsync([server.Uri], TimeSpan.FromSeconds(5));
        Assert.True(result.Outcome == expected, $"{result.Outcome}: {result.Detail}");
        Assert.Equal(1, server.Requests);
        // The server being ahead means this host is behind: a negative skew, to within the Date's one-second grain.
        double measured = double.Parse(result.Detail[..result.Detail.IndexOf(' ', StringComparison.Ordinal)], System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(measured, -serverAheadSeconds - 1.0, -serverAheadSeconds + 1.0);
        if (expected == CheckOutcome.Failed)
            Assert.Contains("timedatectl set-ntp true", result.Fix, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("yesterday-ish")]
    [InlineData("Mon, 99 Foo 2024 99:99:99 GMT")]
    public async Task Skew_with_a_missing_or_malformed_date_warns(string? date)
    {
        await using var server = new Http2DateServer(() => date);
        CheckResult result = await ClockSkewCheck.RunAsync([server.Uri], TimeSpan.FromSeconds(5));
        Assert.Equal(CheckOutcome.Warning, result.Outcome);
        Assert.Contains("answered without a Date header", result.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Skew_against_a_silent_server_warns_within_the_time_bound()
    {
        await using var silent = new Http2DateServer(() => "x", Http2DateServer.Mode.Silent);
        var clock = Stopwatch.StartNew();
        CheckResult result = await ClockSkewCheck.RunAsync([silent.Uri], TimeSpan.FromSeconds(1.5));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(4), $"took {clock.Elapsed}");
        Assert.Equal(CheckOutcome.Warning, result.Outcome);
        Assert.Contains("no answer within 1.5 s", result.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Skew_tries_the_next_endpoint_after_a_closed_port_or_an_http1_server()
    {
        await using var http1 = new Http2DateServer(() => "x", Http2DateServer.Mode.Http1);
        await using Http2DateServer good = Http2DateServer.Skewed(TimeSpan.Zero);
        var closed = new Uri($"http://127.0.0.1:{FreePorts.Next()}");
        CheckResult result = await ClockSkewCheck.RunAsync([closed, http1.Uri, good.Uri], TimeSpan.FromSeconds(5));
        Assert.Equal(CheckOutcome.Ok, result.Outcome);
        Assert.Contains(good.Uri.ToString(), result.Detail, StringComparison.Ordinal);

        CheckResult none = await ClockSkewCheck.RunAsync([closed, http1.Uri], TimeSpan.FromSeconds(5));
        Assert.Equal(CheckOutcome.Warning, none.Outcome);
        Assert.Contains(closed.ToString(), none.Detail, StringComparison.Ordinal);
        Assert.Contains(http1.Uri.ToString(), none.Detail, StringComparison.Ordinal);
        Assert.Contains("mesh.endpoints", none.Fix, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Skew_against_the_reference_scheduler_is_small()
    {
        int port = FreePorts.Next();
        await using SchedulerProcess scheduler = await SchedulerProcess.StartAsync(_dir.Path, port, FreePorts.Next(), 1000);
        CheckResult result = await ClockSkewCheck.RunAsync([new Uri($"http://127.0.0.1:{port}")], TimeSpan.FromSeconds(5));
        Assert.True(result.Outcome == CheckOutcome.Ok, result.Detail);
        Assert.Matches(@"^[+-]\d\.\d s against http://127\.0\.0\.1:\d+/ \(±\d\.\d s", result.Detail);
    }

    [Theory]
    [InlineData(0, CheckOutcome.Ok)]
    [InlineData(29, CheckOutcome.Warning)]
    [InlineData(31, CheckOutcome.Failed)]
    public void Skew_bounds_leave_room_for_the_measurements_uncertainty(int skewSeconds, CheckOutcome expected)
    {
        CheckResult result = ClockSkewCheck.Judge(new Uri("http://s/"), TimeSpan.FromSeconds(skewSeconds), TimeSpan.FromSeconds(0.5));
        Assert.Equal(expected, result.Outcome);
    }

    // ---- engine --------------------------------------------------------------------------------------------------

    [Theory]
    [InlineData("docker")]
    [InlineData("podman")]
    public void Engine_line_names_the_real_engine_its_version_and_its_limits(string engine)
    {
        var host = new HostPaths(_dir.Path, true);
        var config = new NodeConfig(host) { Runtime = { Engine = engine == "docker" ? EngineChoice.Docker : EngineChoice.Podman } };
        (CheckResult result, EngineFacts facts) = EngineCheck.Run(config, host, TimeSpan.FromSeconds(10));
        Assert.True(result.Outcome == CheckOutcome.Ok, result.Detail);
        Assert.Matches($@"^{engine} \d+\.\d+\.\d+\S* \(API 1\.4\d\) at /\S+, cgroup v[12] \(\w+\), limits: memory, swap, cpu, pids$", result.Detail);
        Assert.NotNull(facts.Info?.Runtimes);
    }

    [Fact]
    public void A_dead_engine_socket_fails_within_the_timeout()
    {
        // Accepts connections and never answers: a wedged dockerd.
        string path = _dir["dead.sock"];
        using var dead = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        dead.Bind(new UnixDomainSocketEndPoint(path));
        dead.Listen(8);
        var host = new HostPaths(_dir.Path, true);
        var config = new NodeConfig(host) { Runtime = { Socket = path } };
        var clock = Stopwatch.StartNew();
        (CheckResult result, EngineFacts facts) = EngineCheck.Run(config, host, TimeSpan.FromSeconds(1));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"took {clock.Elapsed}");
        Assert.Equal(CheckOutcome.Failed, result.Outcome);
        Assert.Equal("the engine did not answer within 1 s", result.Detail);
        Assert.Null(facts.Kind);

        config.Runtime.Socket = _dir["absent.sock"];
        (CheckResult absent, _) = EngineCheck.Run(config, host, TimeSpan.FromSeconds(1));
        Assert.Equal(CheckOutcome.Failed, absent.Outcome);
        Assert.Equal("start Docker or Podman, or set runtime.socket", absent.Fix);
    }
}
