using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using InfraMind.Node.Crypto;
using InfraMind.Node.Models.Fetch;
using InfraMind.Node.Tests.Support;

namespace InfraMind.Node.Tests.Models;

/// <summary>
/// What a raw, hostile mirror can do to the fetcher: stall after the headers or mid-body, send an unannounced
/// (chunked) body past the limit, send garbage for headers. Each leaves neither the destination nor the temporary
/// file behind, and the next mirror serves. A verified download replaces the destination only at the end.
/// </summary>
public sealed class HttpBundleFetcherStallTests : IDisposable
{
    private static readonly TimeSpan Stall = TimeSpan.FromMilliseconds(300);
    private readonly LocalHttpServer _good = new();
    private readonly HttpClient _http = new();
    private readonly TempFolder _temp = new();

    public void Dispose()
    {
        _http.Dispose();
        _good.Dispose();
        _temp.Dispose();
    }

    private static byte[] Body(int length)
    {
        byte[] body = new byte[length];
        new Random(length).NextBytes(body);
        return body;
    }

    public static TheoryData<string> Hostile => ["stall-before-headers", "stall-after-headers", "stall-mid-body", "chunked-over-limit", "garbage-head", "closed-at-once"];

    [Theory]
    [MemberData(nameof(Hostile))]
    public async Task A_hostile_mirror_is_dropped_for_the_next(string how)
    {
        byte[] body = Body((2 << 20) + 5);
        byte[] head = Encoding.ASCII.GetBytes($"HTTP/1.1 200 OK\r\nContent-Length: {body.Length}\r\n\r\n");
        byte[] answer = how switch
        {
            "stall-before-headers" => [],
            "stall-after-headers" => head,
            "stall-mid-body" => [.. head, .. body.AsSpan(0, 1 << 20)],
            "chunked-over-limit" => Chunked(Body(5 << 20)),
            "garbage-head" => Encoding.ASCII.GetBytes("HTTP/9 ???\r\n\r\n"),
            _ => [],
        };
        await using var hostile = new RawServer(answer, hold: how != "closed-at-once" && how != "garbage-head");
        Uri good = _good.Serve("/b.tar", new LocalHttpServer.Answer(body));
        string file = _temp["b.tar"];
        var fetcher = new HttpBundleFetcher(_http, Stall);
        Hash32 sha256 = Hash32.Read(SHA256.HashData(body));

        var e = await Assert.ThrowsAsync<FetchException>(() => fetcher.FetchAsync([hostile.Uri], sha256, file, 4 << 20, null, null, CancellationToken.None));
        Assert.False(File.Exists(file), e.Message);
        Assert.False(File.Exists(file + ".partial"), e.Message);
        if (how.StartsWith("stall", StringComparison.Ordinal))
            Assert.Contains("stalled", e.Message, StringComparison.Ordinal);

        // The fallback gets a 1 s clock: the good mirror must answer within it, and 300 ms was not always enough for
        // the test's HttpListener to answer on a CI host loaded well past its two cores.
        var patient = new HttpBundleFetcher(_http, TimeSpan.FromSeconds(1));
        Assert.Equal(good, await patient.FetchAsync([hostile.Uri, good], sha256, file, 4 << 20, null, null, CancellationToken.None));
        Assert.Equal(body, await File.ReadAllBytesAsync(file));
        Assert.False(File.Exists(file + ".partial"));
    }

    [Fact]
    public async Task A_slow_mirror_that_keeps_sending_is_not_a_stall()
    {
        byte[] body = Body(64 << 10);
        await using var slow = new RawServer(Encoding.ASCII.GetBytes($"HTTP/1.1 200 OK\r\nContent-Length: {body.Length}\r\n\r\n").Concat(body).ToArray(), hold: false, pieces: 16, pause: TimeSpan.FromMilliseconds(200));
        string file = _temp["slow.tar"];

        // 16 pauses of 200 ms: 3.2 s in all, over twice a 1.5 s stall clock that restarts per read. Each pause leaves
        // 1.3 s for a loaded CI host to schedule the reads (750 ms was not enough once under the full suite; 100 ms
        // pauses against 300 ms failed before that).
        await new HttpBundleFetcher(_http, TimeSpan.FromSeconds(1.5)).FetchAsync([slow.Uri], Hash32.Read(SHA256.HashData(body)), file, 1 << 20, null, null, CancellationToken.None);
        Assert.Equal(body, await File.ReadAllBytesAsync(file));
    }

    [Fact]
    public async Task A_failed_download_leaves_an_existing_destination_as_it_was()
    {
        string file = _temp.Write("b.tar", "the previous verified bundle");
        byte[] body = Body(3 << 20);
        byte[] bad = (byte[])body.Clone();
        bad[^1] ^= 1;
        Uri corrupt = _good.Serve("/corrupt.tar", new LocalHttpServer.Answer(bad));

        await Assert.ThrowsAsync<FetchException>(() => new HttpBundleFetcher(_http).FetchAsync([corrupt], Hash32.Read(SHA256.HashData(body)), file, 8 << 20, null, null, CancellationToken.None));
        Assert.Equal("the previous verified bundle", await File.ReadAllTextAsync(file));
        Assert.False(File.Exists(file + ".partial"));
    }

    [Fact]
    public async Task The_callers_cancellation_is_not_a_mirror_failure()
    {
        await using var stalled = new RawServer(Encoding.ASCII.GetBytes("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nabc"), hold: true);
        string file = _temp["b.tar"];
        using var cancel = new CancellationTokenSource(200);

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => new HttpBundleFetcher(_http, TimeSpan.FromMinutes(5)).FetchAsync([stalled.Uri], default, file, 1 << 20, null, null, cancel.Token));
        Assert.False(File.Exists(file));
        Assert.False(File.Exists(file + ".partial"));
    }

    private static byte[] Chunked(byte[] body)
    {
        using var s = new MemoryStream();
        s.Write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"u8);
        for (int at = 0; at < body.Length; at += 1 << 16)
        {
            int n = Math.Min(1 << 16, body.Length - at);
            s.Write(Encoding.ASCII.GetBytes($"{n:x}\r\n"));
            s.Write(body, at, n);
            s.Write("\r\n"u8);
        }

        s.Write("0\r\n\r\n"u8);
        return s.ToArray();
    }

    /// <summary>
    /// A socket server that answers every connection with fixed bytes (in <c>pieces</c> with a pause between), then
    /// holds the connection open without a byte more (<c>hold</c>) or closes it.
    /// </summary>
    private sealed class RawServer : IAsyncDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _loop;

        public RawServer(byte[] answer, bool hold, int pieces = 1, TimeSpan pause = default)
        {
            _listener.Start();
            Uri = new Uri($"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}/b.tar");
            _loop = Task.Run(async () =>
            {
                var served = new List<Task>();
                try
                {
                    while (true)
                    {
                        Socket client = await _listener.AcceptSocketAsync(_stop.Token);
                        served.Add(ServeAsync(client, answer, hold, pieces, pause, _stop.Token));
                    }
                }
                catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
                {
                }

                await Task.WhenAll(served);
            });
        }

        public Uri Uri { get; }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            _listener.Stop();
            await _loop;
            _stop.Dispose();
        }

        private static async Task ServeAsync(Socket client, byte[] answer, bool hold, int pieces, TimeSpan pause, CancellationToken stop)
        {
            using (client)
            {
                try
                {
                    byte[] request = new byte[8192];
                    int got = 0;
                    while (!Encoding.ASCII.GetString(request, 0, got).Contains("\r\n\r\n", StringComparison.Ordinal))
                    {
                        int n = await client.ReceiveAsync(request.AsMemory(got), SocketFlags.None, stop);
                        if (n == 0)
                            return;
                        got += n;
                    }

                    int piece = (answer.Length + pieces - 1) / Math.Max(pieces, 1);
                    for (int at = 0; at < answer.Length; at += piece)
                    {
                        if (at > 0)
                            await Task.Delay(pause, stop);
                        await client.SendAsync(answer.AsMemory(at, Math.Min(piece, answer.Length - at)), SocketFlags.None, stop);
                    }

                    if (hold)
                        await Task.Delay(Timeout.Infinite, stop);
                    client.Shutdown(SocketShutdown.Send);
                }
                catch (Exception e) when (e is OperationCanceledException or SocketException)
                {
                }
            }
        }
    }
}
