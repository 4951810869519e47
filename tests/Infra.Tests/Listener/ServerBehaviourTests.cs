using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using InfraMind.Node.Errors;
using InfraMind.Node.Listener.Http;
using InfraMind.Node.Tests.Support;

namespace InfraMind.Node.Tests.Listener;

/// <summary>
/// Keep-alive, 100-continue, streaming, errors, drain, Unix sockets, and real clients (curl, wrk, h2load). wrk loads the
/// process and the drain checks are timed, so the class runs alone (<see cref="TimingGroup"/>).
/// </summary>
[Collection(TimingGroup.Name)]
public class ServerBehaviourTests
{
    private static async Task<(int Exit, string Out, string Err)> Run(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in args)
            psi.ArgumentList.Add(a);
        using Process p = Process.Start(psi)!;
        Task<string> stdout = p.StandardOutput.ReadToEndAsync();
        Task<string> stderr = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await p.WaitForExitAsync(cts.Token);
        return (p.ExitCode, await stdout, await stderr);
    }

    [Fact]
    public void Json_bodies_escape_what_json_requires_and_leave_the_rest_readable()
    {
        const string message = "got 'ninety' for 0.1.0+abc <é> \"q\" \\ \n";
        string body = Encoding.UTF8.GetString(Http1Writer.ErrorBody("bad_config", message));
        Assert.Equal("{\"error\":\"bad_config\",\"message\":\"got 'ninety' for 0.1.0+abc <é> \\\"q\\\" \\\\ \\n\"}", body);
        using var parsed = System.Text.Json.JsonDocument.Parse(body);
        Assert.Equal(message, parsed.RootElement.GetProperty("message").GetString());
    }

    [Fact]
    public async Task Keepalive_http10_expect_continue_stream_and_handler_failure()
    {
        await using var host = new TestHost();
        RawResponse r = await host.SendRawAsync(Encoding.ASCII.GetBytes(
            "GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" +
            "POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nT: v\r\n\r\n" +
            "GET /throw HTTP/1.1\r\nHost: h\r\n\r\n" +
            "GET /stream HTTP/1.1\r\nHost: h\r\n\r\n" +
            "HEAD /healthz HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"));
        Assert.Equal([200, 200, 500, 200, 200], r.Statuses);
        Assert.Contains("Connection: keep-alive", r.Text, StringComparison.Ordinal);
        Assert.Contains("X-Body-Length: 3", r.Text, StringComparison.Ordinal);
        Assert.Contains("{\"error\":\"internal_error\"", r.Text, StringComparison.Ordinal);
        Assert.Contains("Transfer-Encoding: chunked\r\n\r\n6\r\npart0;\r\n6\r\npart1;\r\n6\r\npart2;\r\n0\r\n\r\n", r.Text, StringComparison.Ordinal);
        string headAnswer = r.Text[r.Text.LastIndexOf("HTTP/1.1 200", StringComparison.Ordinal)..];
        Assert.Contains("Content-Length: 2\r\n", headAnswer, StringComparison.Ordinal); // HEAD: the length, no body
        Assert.EndsWith("\r\n\r\n", headAnswer, StringComparison.Ordinal);
        Assert.Single(host.Failures);

        // HTTP/1.0 without keep-alive closes after one answer.
        RawResponse one = await host.SendRawAsync("GET /healthz HTTP/1.0\r\n\r\nGET /healthz HTTP/1.0\r\n\r\n"u8.ToArray());
        Assert.Equal([200], one.Statuses);
        Assert.True(one.Closed);
    }

    [Fact]
    public async Task Continue_is_sent_only_when_the_handler_reads_the_body()
    {
        await using var host = new TestHost();
        using Socket socket = await host.ConnectAsync();
        await socket.SendAsync("POST /echo HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n"u8.ToArray(), SocketFlags.None);
        byte[] buffer = new byte[1024];
        int n = await socket.ReceiveAsync(buffer, SocketFlags.None);
        Assert.Equal("HTTP/1.1 100 Continue\r\n\r\n", Encoding.ASCII.GetString(buffer, 0, n));
        await socket.SendAsync("hello"u8.ToArray(), SocketFlags.None);
        n = await socket.ReceiveAsync(buffer, SocketFlags.None);
        Assert.EndsWith("hello", Encoding.ASCII.GetString(buffer, 0, n), StringComparison.Ordinal);

        // A route that never reads the body answers without 100 Continue and closes (the body was never sent).
        RawResponse r = await host.SendRawAsync("POST /healthz HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n"u8.ToArray());
        Assert.DoesNotContain("100 Continue", r.Text, StringComparison.Ordinal);
        Assert.Equal([200], r.Statuses);
        Assert.True(r.Closed);
    }

    [Fact]
    public async Task Client_leaving_a_stream_cancels_the_handler()
    {
        await using var host = new TestHost();
        using (Socket socket = await host.ConnectAsync())
        {
            await socket.SendAsync("GET /forever HTTP/1.1\r\nHost: h\r\n\r\n"u8.ToArray(), SocketFlags.None);
            byte[] buffer = new byte[1024];
            Assert.True(await socket.ReceiveAsync(buffer, SocketFlags.None) > 0);
        }

        for (int i = 0; i < 100 && Volatile.Read(ref host.Handler.StreamCancelled) == 0; i++)
            await Task.Delay(20);
        Assert.Equal(1, Volatile.Read(ref host.Handler.StreamCancelled));
    }

    [Fact]
    public async Task Drain_finishes_in_flight_requests_closes_idle_ones_and_refuses_new_ones()
    {
        var host = new TestHost(TestHost.FastOptions with { KeepAliveTimeout = TimeSpan.FromSeconds(30) });
        using Socket idle = await host.ConnectAsync();
        await idle.SendAsync("GET /healthz HTTP/1.1\r\nHost: h\r\n\r\n"u8.ToArray(), SocketFlags.None);
        using Socket busy = await host.ConnectAsync();
        await busy.SendAsync("GET /slow HTTP/1.1\r\nHost: h\r\n\r\n"u8.ToArray(), SocketFlags.None);
        await host.Handler.SlowStarted.Task;

        var stopwatch = Stopwatch.StartNew();
        Task stopping = host.Server.StopAsync(TimeSpan.FromSeconds(5));
        RawResponse slow = await TestHost.ReadUntilCloseAsync(busy, TimeSpan.FromSeconds(5));
        RawResponse idleAnswer = await TestHost.ReadUntilCloseAsync(idle, TimeSpan.FromSeconds(5));
        await stopping;

        Assert.Equal([200], slow.Statuses);
        Assert.Contains("slow done", slow.Text, StringComparison.Ordinal);
        Assert.Contains("Connection: close", slow.Text, StringComparison.Ordinal);
        Assert.True(slow.Closed && idleAnswer.Closed);
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(3), $"drain took {stopwatch.Elapsed}");
        await Assert.ThrowsAsync<SocketException>(async () => await host.ConnectAsync());
    }

    [Fact]
    public async Task Drain_force_closes_after_the_timeout()
    {
        var host = new TestHost();
        using Socket busy = await host.ConnectAsync();
        await busy.SendAsync("GET /forever HTTP/1.1\r\nHost: h\r\n\r\n"u8.ToArray(), SocketFlags.None);
        await Task.Delay(100);
        var stopwatch = Stopwatch.StartNew();
        await host.Server.StopAsync(TimeSpan.FromMilliseconds(300));
        Assert.InRange(stopwatch.Elapsed.TotalMilliseconds, 250, 2500);
        Assert.Equal(0, host.Server.ConnectionCount);
    }

    [Fact]
    public async Task Unix_socket_mode_stale_file_live_owner_and_curl()
    {
        using var temp = new TempFolder();
        string path = temp["control.sock"];
        // A stale file from a dead server is replaced. (.NET unlinks its own socket files on dispose, so a process
        // that exits without cleaning up is played by python.)
        var (made, _, madeError) = await Run("python3", "-c", "import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])", path);
        Assert.True(made == 0 && Path.Exists(path), madeError);

        await using (var host = new TestHost(endPoints: [new UnixDomainSocketEndPoint(path)]))
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite, File.GetUnixFileMode(path));
            var second = new HttpServer(host.Handler, TestHost.FastOptions);
            InfraException e = Assert.Throws<InfraException>(() => second.Start([new UnixDomainSocketEndPoint(path)]));
            Assert.Contains("served by a running process", e.Message, StringComparison.Ordinal);

            var (exit, output, error) = await Run("curl", "-s", "--unix-socket", path, "http://node/healthz", "http://node/query?wait=a%20b");
            Assert.True(exit == 0, error);
            Assert.Equal("oka b", output);
        }

        Assert.False(Path.Exists(path)); // removed on stop
    }

    [Fact]
    public async Task Curl_keepalive_chunked_upload_and_expect_continue()
    {
        await using var host = new TestHost();
        var (exit, output, error) = await Run("curl", "-sv", $"{host.Url}/healthz", $"{host.Url}/healthz");
        Assert.True(exit == 0, error);
        Assert.Equal("okok", output);
        Assert.Contains("Re-using existing connection", error, StringComparison.Ordinal);

        (exit, output, error) = await Run("curl", "-s", "-H", "Transfer-Encoding: chunked", "--data-binary", "chunked upload body", $"{host.Url}/echo");
        Assert.True(exit == 0, error);
        Assert.Equal("chunked upload body", output);

        using var temp = new TempFolder();
        string big = temp.Write("big.bin", new string('z', 40_000));
        (exit, output, error) = await Run("curl", "-sv", "-H", "Expect: 100-continue", "--data-binary", "@" + big, $"{host.Url}/echo");
        Assert.True(exit == 0, error);
        Assert.Equal(40_000, output.Length);
        Assert.Contains("HTTP/1.1 100 Continue", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Wrk_and_h2load_run_without_errors()
    {
        await using var host = new TestHost(TestHost.FastOptions with { MaxConnections = 256 });
        var (exit, output, error) = await Run("wrk", "-t1", "-c8", "-d1s", $"{host.Url}/healthz");
        Assert.True(exit == 0, error);
        Assert.DoesNotContain("Socket errors", output, StringComparison.Ordinal);
        Assert.DoesNotContain("Non-2xx", output, StringComparison.Ordinal);
        Assert.Matches(@"[1-9]\d* requests in", output);

        (exit, output, error) = await Run("h2load", "--h1", "-n", "2000", "-c", "8", $"{host.Url}/healthz");
        Assert.True(exit == 0, error);
        Assert.Contains("2000 total, 2000 started, 2000 done, 2000 succeeded, 0 failed, 0 errored", output, StringComparison.Ordinal);
    }
}
