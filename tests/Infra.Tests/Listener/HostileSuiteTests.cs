using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using InfraMind.Node.Tests.Support;

namespace InfraMind.Node.Tests.Listener;

/// <summary>
/// Malformed and abusive requests against a real server on a loopback port: each gets its 4xx/5xx (or a close)
/// within a bounded time, and none crashes or stalls the server for a well-behaved client beside it. The timeouts are
/// measured, so the class runs alone (<see cref="TimingGroup"/>).
/// </summary>
[Collection(TimingGroup.Name)]
public class HostileSuiteTests
{
    private const string H = "Host: h\r\n";

    /// <summary>(name, request bytes, expected first status; 0 = the connection is closed without an answer).</summary>
    public static readonly (string Name, string Request, int Status)[] Cases =
    [
        ("both length and chunked", "POST /echo HTTP/1.1\r\n" + H + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 400),
        ("two content lengths", "POST /echo HTTP/1.1\r\n" + H + "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", 400),
        ("negative content length", "POST /echo HTTP/1.1\r\n" + H + "Content-Length: -5\r\n\r\n", 400),
        ("huge content length", "POST /echo HTTP/1.1\r\n" + H + "Content-Length: 99999999999\r\n\r\nabc", 413),
        ("overflowing content length", "POST /echo HTTP/1.1\r\n" + H + "Content-Length: 99999999999999999999999\r\n\r\n", 400),
        ("hex content length", "POST /echo HTTP/1.1\r\n" + H + "Content-Length: 0x10\r\n\r\n", 400),
        ("content length with plus", "POST /echo HTTP/1.1\r\n" + H + "Content-Length: +5\r\n\r\nhello", 400),
        ("chunk size not hex", "POST /echo HTTP/1.1\r\n" + H + "Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n", 400),
        ("chunk size overflow", "POST /echo HTTP/1.1\r\n" + H + "Transfer-Encoding: chunked\r\n\r\nfffffffffffffffffffff\r\nx\r\n0\r\n\r\n", 400),
        ("chunk larger than the limit", "POST /echo HTTP/1.1\r\n" + H + "Transfer-Encoding: chunked\r\n\r\n100000\r\nx\r\n", 413),
        ("chunk data missing CRLF", "POST /echo HTTP/1.1\r\n" + H + "Transfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n", 400),
        ("chunk size negative", "POST /echo HTTP/1.1\r\n" + H + "Transfer-Encoding: chunked\r\n\r\n-1\r\n\r\n", 400),
        ("transfer encoding gzip", "POST /echo HTTP/1.1\r\n" + H + "Transfer-Encoding: gzip\r\n\r\n", 501),
        ("transfer encoding gzip, chunked", "POST /echo HTTP/1.1\r\n" + H + "Transfer-Encoding: gzip, chunked\r\n\r\n", 501),
        ("NUL in request line", "GET /a\0b HTTP/1.1\r\n" + H + "\r\n", 400),
        ("control byte in request line", "GET /a\u001bb HTTP/1.1\r\n" + H + "\r\n", 400),
        ("NUL in header value", "GET / HTTP/1.1\r\n" + H + "X: a\0b\r\n\r\n", 400),
        ("NUL in header name", "GET / HTTP/1.1\r\n" + H + "X\0Y: v\r\n\r\n", 400),
        ("bare CR in header value", "GET / HTTP/1.1\r\n" + H + "X: a\rb\r\n\r\n", 400),
        ("obs-fold", "GET / HTTP/1.1\r\n" + H + "X: a\r\n  continued\r\n\r\n", 400),
        ("header without colon", "GET / HTTP/1.1\r\n" + H + "NoColonHere\r\n\r\n", 400),
        ("space before colon", "GET / HTTP/1.1\r\nHost : h\r\n\r\n", 400),
        ("empty header name", "GET / HTTP/1.1\r\n" + H + ": v\r\n\r\n", 400),
        ("oversized request line", "GET /" + new string('a', 9000) + " HTTP/1.1\r\n" + H + "\r\n", 414),
        ("oversized header line", "GET / HTTP/1.1\r\n" + H + "X: " + new string('v', 9000) + "\r\n\r\n", 431),
        ("too many headers", "GET / HTTP/1.1\r\n" + H + string.Concat(Enumerable.Range(0, 70).Select(i => $"X-{i}: v\r\n")) + "\r\n", 431),
        ("headers too large in total", "GET / HTTP/1.1\r\n" + H + string.Concat(Enumerable.Range(0, 8).Select(i => $"X-{i}: {new string('v', 5000)}\r\n")) + "\r\n", 431),
        ("body over the limit", "POST /echo HTTP/1.1\r\n" + H + "Content-Length: 70000\r\n\r\n" + new string('b', 70000), 413),
        ("chunked body over the limit", "POST /echo HTTP/1.1\r\n" + H + "Transfer-Encoding: chunked\r\n\r\n" + string.Concat(Enumerable.Repeat("8000\r\n" + new string('c', 0x8000) + "\r\n", 3)) + "0\r\n\r\n", 413),
        ("lone LF request line", "GET / HTTP/1.1\n" + H + "\r\n", 400),
        ("lone LF headers", "GET / HTTP/1.1\r\nHost: h\n\n", 400),
        ("HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505),
        ("HTTP/0.9", "GET /\r\n", 400),
        ("bad version", "GET / HTTP/1.2\r\n" + H + "\r\n", 505),
        ("garbled version", "GET / HTXP/1.1\r\n" + H + "\r\n", 400),
        ("absolute form without host", "GET http:///x HTTP/1.1\r\n" + H + "\r\n", 400),
        ("absolute form with userinfo", "GET http://user:pw@h/x HTTP/1.1\r\n" + H + "\r\n", 400),
        ("absolute form other scheme", "GET gopher://h/ HTTP/1.1\r\n" + H + "\r\n", 400),
        ("relative target", "GET healthz HTTP/1.1\r\n" + H + "\r\n", 400),
        ("asterisk for GET", "GET * HTTP/1.1\r\n" + H + "\r\n", 400),
        ("expect something else", "POST /echo HTTP/1.1\r\n" + H + "Expect: 200-ok\r\nContent-Length: 1\r\n\r\nx", 417),
        ("unknown method", "BREW /pot HTTP/1.1\r\n" + H + "\r\n", 501),
        ("TRACE", "TRACE / HTTP/1.1\r\n" + H + "\r\n", 405),
        ("CONNECT", "CONNECT h:443 HTTP/1.1\r\n" + H + "\r\n", 405),
        ("missing Host", "GET /healthz HTTP/1.1\r\n\r\n", 400),
        ("two Hosts", "GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
        ("garbage bytes", "\u00ff\u00fe\u0000\u0001garbage\r\n\r\n", 400),
        ("TLS ClientHello", "\u0016\u0003\u0001\u0000\u00c8\u0001\u0000\u0000\u00c4\u0003\u0003" + new string('\u00aa', 32), 400),
        ("body shorter than its length, then half-close", "POST /echo HTTP/1.1\r\n" + H + "Content-Length: 100\r\n\r\nshort", 400),
        ("head cut short, then half-close", "GET /healthz HTTP/1.1\r\nHost: h\r\nX-Cut: ", 0),
        ("pipelined with a bad one in the middle", "GET /healthz HTTP/1.1\r\n" + H + "\r\nGET /a\0 HTTP/1.1\r\n" + H + "\r\nGET /healthz HTTP/1.1\r\n" + H + "\r\n", 200),
    ];

    [Fact]
    public async Task Every_hostile_request_gets_its_status_in_bounded_time()
    {
        Assert.True(Cases.Length >= 40);
        await using var host = new TestHost();
        var failures = new List<string>();
        await Parallel.ForEachAsync(Cases, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (c, _) =>
        {
            bool halfClose = c.Name.EndsWith("half-close", StringComparison.Ordinal);
            RawResponse response = await SendAsync(host, c.Request, halfClose);
            string? problem = response.FirstStatus != c.Status ? $"status {response.FirstStatus}, expected {c.Status}"
                : !response.Closed ? "the connection stayed open"
                : response.Elapsed > TimeSpan.FromSeconds(3) ? $"took {response.Elapsed.TotalMilliseconds:F0} ms"
                : c.Status >= 400 && !response.Text.Contains("\"error\":", StringComparison.Ordinal) ? "no JSON error body"
                : c.Status >= 400 && !response.Text.Contains("Connection: close", StringComparison.Ordinal) ? "no Connection: close"
                : null;
            if (problem is not null)
            {
                lock (failures)
                    failures.Add($"{c.Name}: {problem}: {response.Text[..Math.Min(120, response.Text.Length)].ReplaceLineEndings("|")}");
            }
        });

        Assert.Empty(failures);
        Assert.Empty(host.Failures);
        // The server is still fine.
        RawResponse ok = await host.SendRawAsync(Encoding.ASCII.GetBytes("GET /healthz HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"));
        Assert.Equal(200, ok.FirstStatus);
    }

    [Fact]
    public async Task Pipelined_requests_with_a_bad_one_answer_in_order_then_close()
    {
        await using var host = new TestHost();
        RawResponse r = await SendAsync(host, "GET /healthz HTTP/1.1\r\nHost: h\r\n\r\nGET /query?wait=1 HTTP/1.1\r\nHost: h\r\n\r\nGET /a\0 HTTP/1.1\r\nHost: h\r\n\r\nGET /healthz HTTP/1.1\r\nHost: h\r\n\r\n", halfClose: false);
        Assert.Equal([200, 200, 400], r.Statuses);
        Assert.True(r.Closed);
    }

    private static async Task<RawResponse> SendAsync(TestHost host, string request, bool halfClose)
    {
        using Socket socket = await host.ConnectAsync();
        try
        {
            await socket.SendAsync(Encoding.Latin1.GetBytes(request), SocketFlags.None);
            if (halfClose)
                socket.Shutdown(SocketShutdown.Send);
        }
        catch (SocketException)
        {
            // Answered and closed before everything was sent.
        }

        return await TestHost.ReadUntilCloseAsync(socket, TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task Slowloris_head_gets_408_and_close()
    {
        await using var host = new TestHost();
        using Socket socket = await host.ConnectAsync();
        var stopwatch = Stopwatch.StartNew();
        await socket.SendAsync("GET / HTTP/1.1\r\nHost: h\r\n"u8.ToArray(), SocketFlags.None);
        RawResponse r = await TestHost.ReadUntilCloseAsync(socket, TimeSpan.FromSeconds(5));
        Assert.Equal(408, r.FirstStatus);
        Assert.True(r.Closed);
        Assert.InRange(stopwatch.Elapsed.TotalMilliseconds, 500, 3000);
    }

    [Fact]
    public async Task Trickled_head_is_cut_at_the_header_timeout_not_reset_by_each_byte()
    {
        // A byte every 50 ms for 100 bytes: a server that restarted its 600 ms header timer on each byte would let the
        // whole head in (5 s) before answering, so the cut must come with bytes still unsent.
        await using var host = new TestHost();
        using Socket socket = await host.ConnectAsync();
        var stopwatch = Stopwatch.StartNew();
        byte[] trickle = Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\nX-Slow: " + new string('a', 100 - 24));
        Task<RawResponse> reading = TestHost.ReadUntilCloseAsync(socket, TimeSpan.FromSeconds(10));
        int sent = 0;
        try
        {
            for (; sent < trickle.Length && !reading.IsCompleted; sent++)
            {
                await socket.SendAsync(trickle.AsMemory(sent, 1), SocketFlags.None);
                await Task.Delay(50);
            }
        }
        catch (SocketException)
        {
        }

        RawResponse r = await reading;
        Assert.True(408 == r.FirstStatus, r.Text);
        Assert.True(sent < trickle.Length, $"the 408 came only after all {trickle.Length} bytes, at {stopwatch.Elapsed.TotalMilliseconds:F0} ms");
        Assert.InRange(stopwatch.Elapsed.TotalMilliseconds, 500, 3000);
    }

    [Fact]
    public async Task Slow_body_below_the_minimum_rate_gets_408()
    {
        await using var host = new TestHost();
        using Socket socket = await host.ConnectAsync();
        await socket.SendAsync("POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 1000\r\n\r\nab"u8.ToArray(), SocketFlags.None);
        Task<RawResponse> reading = TestHost.ReadUntilCloseAsync(socket, TimeSpan.FromSeconds(5));
        for (int i = 0; i < 20 && !reading.IsCompleted; i++)
        {
            await Task.Delay(100);
            try
            {
                await socket.SendAsync("x"u8.ToArray(), SocketFlags.None);
            }
            catch (SocketException)
            {
                break;
            }
        }

        RawResponse r = await reading;
        Assert.Equal(408, r.FirstStatus);
        Assert.Contains("body_too_slow", r.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Idle_keepalive_connection_is_closed_after_the_timeout()
    {
        await using var host = new TestHost();
        using Socket socket = await host.ConnectAsync();
        await socket.SendAsync("GET /healthz HTTP/1.1\r\nHost: h\r\n\r\n"u8.ToArray(), SocketFlags.None);
        RawResponse r = await TestHost.ReadUntilCloseAsync(socket, TimeSpan.FromSeconds(5));
        Assert.Equal([200], r.Statuses);
        Assert.True(r.Closed);
        Assert.InRange(r.Elapsed.TotalMilliseconds, 1900, 4000); // KeepAliveTimeout is 2 s in the test options
    }

    [Fact]
    public async Task Connections_over_the_cap_get_503()
    {
        await using var host = new TestHost(TestHost.FastOptions with { MaxConnections = 4, KeepAliveTimeout = TimeSpan.FromSeconds(10) });
        var held = new List<Socket>();
        try
        {
            for (int i = 0; i < 4; i++)
                held.Add(await host.ConnectAsync());
            for (int i = 0; i < 50 && host.Server.ConnectionCount < 4; i++)
                await Task.Delay(10);
            RawResponse r = await host.SendRawAsync("GET /healthz HTTP/1.1\r\nHost: h\r\n\r\n"u8.ToArray());
            Assert.Equal(503, r.FirstStatus);
            Assert.True(r.Closed);

            held[0].Dispose();
            for (int i = 0; i < 100 && host.Server.ConnectionCount >= 4; i++)
                await Task.Delay(10);
            RawResponse after = await host.SendRawAsync("GET /healthz HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"u8.ToArray());
            Assert.Equal(200, after.FirstStatus);
        }
        finally
        {
            held.ForEach(s => s.Dispose());
        }
    }

    [Fact]
    public async Task Well_behaved_client_keeps_its_latency_beside_the_hostile_suite()
    {
        await using var host = new TestHost(TestHost.FastOptions with { MaxConnections = 256 });
        using var http = new HttpClient { BaseAddress = new Uri(host.Url) };
        async Task<List<double>> Measure(int count, CancellationToken ct)
        {
            var times = new List<double>();
            for (int i = 0; i < count && !ct.IsCancellationRequested; i++)
            {
                var sw = Stopwatch.StartNew();
                using HttpResponseMessage response = await http.GetAsync("/healthz", CancellationToken.None);
                times.Add(sw.Elapsed.TotalMilliseconds);
                Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
                await Task.Delay(5, CancellationToken.None);
            }

            return times;
        }

        await Measure(20, default); // warm up
        List<double> idle = await Measure(100, default);

        // One pass: slowloris connections that never finish their heads, plus the whole hostile suite in rounds for as
        // long as the well-behaved client measures its 100 requests.
        async Task<(List<double> Busy, int Rounds)> BesideTheSuite()
        {
            var slow = new List<Socket>();
            for (int i = 0; i < 30; i++)
            {
                Socket s = await host.ConnectAsync();
                await s.SendAsync("GET / HTTP/1.1\r\nX: "u8.ToArray(), SocketFlags.None);
                slow.Add(s);
            }

            using var stop = new CancellationTokenSource();
            int rounds = 0;
            Task hostile = Task.Run(async () =>
            {
                while (!stop.IsCancellationRequested)
                {
                    await Parallel.ForEachAsync(Cases, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (c, _) =>
                        await SendAsync(host, c.Request, halfClose: c.Name.EndsWith("half-close", StringComparison.Ordinal)));
                    rounds++;
                }
            });
            List<double> measured = await Measure(100, default);
            await stop.CancelAsync();
            await hostile;
            slow.ForEach(s => s.Dispose());
            return (measured, rounds);
        }

        // A request stuck behind a slow client waits out its header timeout. So does, now and then, a request on a loaded
        // 2-core CI host that the whole process stalled (seen once: 1,011 ms, with the p95 fine), so a pass whose worst
        // request reaches the header timeout is run once more, with slowloris connections of its own: a request that
        // really waits behind slow clients does so in both passes.
        double headerTimeout = TestHost.FastOptions.HeaderTimeout.TotalMilliseconds;
        (List<double> busy, int rounds) = await BesideTheSuite();
        if (busy.Max() >= headerTimeout)
            (busy, rounds) = await BesideTheSuite();

        double Median(List<double> v) => v.Order().ElementAt(v.Count / 2);
        Assert.True(rounds >= 1, "the hostile suite did not run beside the measurement");
        // One scheduling hiccup of a loaded 2-core CI machine can take a few hundred milliseconds, so the tail is judged
        // at p95 and the worst only against the header timeout.
        double p95 = busy.Order().ElementAt(busy.Count * 95 / 100);
        Assert.True(p95 < 200, $"p95 beside the suite was {p95:F1} ms (idle median {Median(idle):F2} ms)");
        Assert.True(busy.Max() < headerTimeout, $"slowest request beside the suite took {busy.Max():F1} ms in two passes (idle median {Median(idle):F2} ms)");
        // Generous: the machine is shared and the suite itself uses the CPU; a stall would be orders of magnitude worse.
        Assert.True(Median(busy) < Math.Max(20, Median(idle) * 20), $"median {Median(busy):F2} ms beside the suite vs {Median(idle):F2} ms idle");
    }
}
