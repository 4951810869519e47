using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using InfraMind.Node.Tests.Support;

namespace InfraMind.Node.Tests.Doctor;

/// <summary>`infra doctor` end to end: the real binary, configured through the environment as an operator would, on this host's real engine.</summary>
public sealed class DoctorCliTests : IDisposable
{
    private readonly TempFolder _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>A healthy setup in the test's folder: a fresh key, a small cache budget, a free loopback port, its own control socket.</summary>
    private Dictionary<string, string> Healthy(int port)
    {
        string key = _dir["k/identity.key"];
        InfraProcess.Result created = InfraProcess.Run(_dir.Path, null, "init", "--keygen", "--identity", key);
        Assert.Equal(0, created.ExitCode);
        return new Dictionary<string, string>
        {
            ["INFRAMIND_NODE_IDENTITY"] = key,
            ["INFRAMIND_NODE_STATE_DIR"] = _dir["state"],
            ["INFRAMIND_CACHE_MAX_BYTES"] = "64Mi",
            ["INFRAMIND_LISTENER_BIND"] = "127.0.0.1",
            ["INFRAMIND_LISTENER_PORT"] = $"{port}",
            ["INFRAMIND_CONTROL_SOCKET"] = _dir["run/control.sock"],
        };
    }

    [Fact]
    public async Task Exit_0_when_every_check_passes_then_1_with_the_fix_for_a_taken_port_and_a_skewed_scheduler()
    {
        int port = FreePorts.Next();
        Dictionary<string, string> env = Healthy(port);

        InfraProcess.Result healthy = InfraProcess.Run(_dir.Path, env, "doctor");
        Assert.True(healthy.ExitCode == 0, healthy.StdOut + healthy.StdErr);
        foreach (string line in new[] { "ok    identity", "ok    state dir", "ok    cache disk", "ok    cgroups", "ok    engine      docker ", "ok    gpu ", "skip  gpu runtime", "ok    clock ", "skip  clock skew", $"ok    port        127.0.0.1:{port} is free", "ok    control" })
            Assert.Contains(line, healthy.StdOut, StringComparison.Ordinal);
        Assert.EndsWith("all checks passed\n", healthy.StdOut, StringComparison.Ordinal);

        using (var holder = new TcpListener(IPAddress.Loopback, port))
        {
            holder.Start();
            InfraProcess.Result taken = InfraProcess.Run(_dir.Path, env, "doctor");
            Assert.Equal(1, taken.ExitCode);
            Assert.Contains($"FAIL  port        127.0.0.1:{port} is in use by another process\n", taken.StdOut, StringComparison.Ordinal);
            Assert.Contains($"fix: stop what holds it (`ss -ltnp 'sport = :{port}'`) or set listener.port to a free port\n", taken.StdOut, StringComparison.Ordinal);
            Assert.EndsWith("1 check(s) failed\n", taken.StdOut, StringComparison.Ordinal);
        }

        await using Http2DateServer scheduler = Http2DateServer.Skewed(TimeSpan.FromMinutes(10));
        env["INFRAMIND_MESH_ENDPOINTS"] = scheduler.Uri.ToString();
        InfraProcess.Result skewed = InfraProcess.Run(_dir.Path, env, "doctor", "--json");
        Assert.Equal(1, skewed.ExitCode);
        using JsonDocument report = JsonDocument.Parse(skewed.StdOut);
        Assert.Equal(1, report.RootElement.GetProperty("failed").GetInt32());
        JsonElement skew = report.RootElement.GetProperty("checks").EnumerateArray().Single(c => c.GetProperty("name").GetString() == "clock skew");
        Assert.Equal("failed", skew.GetProperty("outcome").GetString());
        Assert.Contains("over the 30 s", skew.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Contains("timedatectl set-ntp true", skew.GetProperty("fix").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_running_agent_holding_the_port_and_socket_is_reported_as_running_not_as_a_failure()
    {
        int port = FreePorts.Next();
        Dictionary<string, string> env = Healthy(port);
        using System.Diagnostics.Process agent = InfraProcess.Start(_dir.Path, env, "run");
        try
        {
            using (var ready = new CancellationTokenSource(TimeSpan.FromSeconds(60)))
            {
                while (await agent.StandardError.ReadLineAsync(ready.Token) is { } line && line != "info: ready")
                {
                }
            }

            InfraProcess.Result result = InfraProcess.Run(_dir.Path, env, "doctor");
            Assert.True(result.ExitCode == 0, result.StdOut);
            Assert.Contains($"ok    control     {_dir["run/control.sock"]}: an agent is running and answers there", result.StdOut, StringComparison.Ordinal);
            Assert.Contains($"warn  port        127.0.0.1:{port} is in use, most likely by the running agent", result.StdOut, StringComparison.Ordinal);
            Assert.EndsWith("all checks passed (1 warning(s))\n", result.StdOut, StringComparison.Ordinal);
        }
        finally
        {
            agent.Kill();
            await agent.WaitForExitAsync();
        }

        // Killed, the agent leaves its socket file behind: stale, which `infra run` replaces.
        InfraProcess.Result after = InfraProcess.Run(_dir.Path, env, "doctor");
        Assert.Equal(0, after.ExitCode);
        Assert.Contains("stale socket of an agent that stopped", after.StdOut, StringComparison.Ordinal);
        Assert.Contains($"ok    port        127.0.0.1:{port} is free", after.StdOut, StringComparison.Ordinal);
    }

    [Fact]
    public void A_dead_engine_and_an_unreachable_scheduler_do_not_hang_doctor()
    {
        Dictionary<string, string> env = Healthy(FreePorts.Next());
        string dead = _dir["dead.sock"];
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        socket.Bind(new UnixDomainSocketEndPoint(dead));
        socket.Listen(8);
        using var silent = new TcpListener(IPAddress.Loopback, 0); // accepts into its backlog, never answers
        silent.Start();
        env["INFRAMIND_RUNTIME_SOCKET"] = dead;
        env["INFRAMIND_MESH_ENDPOINTS"] = $"http://127.0.0.1:{((IPEndPoint)silent.LocalEndpoint).Port}";

        var clock = System.Diagnostics.Stopwatch.StartNew();
        InfraProcess.Result result = InfraProcess.Run(_dir.Path, env, "doctor");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(15), $"took {clock.Elapsed}");
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("FAIL  engine      the engine did not answer within 3 s", result.StdOut, StringComparison.Ordinal);
        Assert.Contains("warn  clock skew  not measured: no scheduler answered", result.StdOut, StringComparison.Ordinal);
        Assert.Contains("ok    identity", result.StdOut, StringComparison.Ordinal); // the other checks still ran
    }
}
