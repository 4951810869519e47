using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using InfraMind.Node.Listener.Http;

namespace InfraMind.Node.Tests.Listener;

/// <summary>A real <see cref="HttpServer"/> on a loopback port with a handler of a few test routes.</summary>
internal sealed class TestHost : IAsyncDisposable
{
    public static readonly HttpServerOptions FastOptions = new()
    {
        HeaderTimeout = TimeSpan.FromMilliseconds(600),
        KeepAliveTimeout = TimeSpan.FromSeconds(2),
        MinBodyRateGrace = TimeSpan.FromMilliseconds(500),
        MinBodyBytesPerSecond = 1000,
        HeartbeatInterval = TimeSpan.FromMilliseconds(50),
        MaxRequestBodyBytes = 64 * 1024,
        MaxConnections = 64,
    };

    public TestHost(HttpServerOptions? options = null, IEnumerable<EndPoint>? endPoints = null)
    {
        Handler = new RoutesHandler();
        Server = new HttpServer(Handler, options ?? FastOptions, e => Failures.Add(e));
        Server.Start(endPoints ?? [new IPEndPoint(IPAddress.Loopback, 0)]);
    }

    public HttpServer Server { get; }

    public RoutesHandler Handler { get; }

    public List<Exception> Failures { get; } = [];

    public int Port => ((IPEndPoint)Server.EndPoints[0]).Port;

    public string Url => $"http://127.0.0.1:{Port}";

    public async ValueTask DisposeAsync() => await Server.StopAsync(TimeSpan.FromSeconds(1));

    public async Task<Socket> ConnectAsync()
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(IPAddress.Loopback, Port);
        return socket;
    }

    /// <summary>Sends raw bytes and reads until the server closes or the time is up.</summary>
    public async Task<RawResponse> SendRawAsync(byte[] request, TimeSpan? wait = null)
    {
        using Socket socket = await ConnectAsync();
        try
        {
            await socket.SendAsync(request, SocketFlags.None);
        }
        catch (SocketException)
        {
            // The server may close before taking everything (it answered early); the answer is still readable.
        }

        return await ReadUntilCloseAsync(socket, wait ?? TimeSpan.FromSeconds(5));
    }

    public static async Task<RawResponse> ReadUntilCloseAsync(Socket socket, TimeSpan wait)
    {
        var stopwatch = Stopwatch.StartNew();
        using var cts = new CancellationTokenSource(wait);
        var received = new MemoryStream();
        byte[] buffer = new byte[16 * 1024];
        bool closed = false;
        try
        {
            while (true)
            {
                int n = await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
                if (n == 0)
                {
                    closed = true;
                    break;
                }

                received.Write(buffer.AsSpan(0, n));
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (SocketException)
        {
            closed = true; // reset counts as closed
        }

        return new RawResponse(Encoding.Latin1.GetString(received.ToArray()), closed, stopwatch.Elapsed);
    }
}

internal sealed partial record RawResponse(string Text, bool Closed, TimeSpan Elapsed)
{
    /// <summary>Status codes of every final response in the text, in order (100 Continue excluded).</summary>
    public IReadOnlyList<int> Statuses =>
        [.. StatusLine().Matches(Text).Select(m => int.Parse(m.Groups[1].ValueSpan, System.Globalization.CultureInfo.InvariantCulture)).Where(s => s != 100)];

    [System.Text.RegularExpressions.GeneratedRegex(@"HTTP/1\.1 (\d{3}) ")]
    private static partial System.Text.RegularExpressions.Regex StatusLine();

    public int FirstStatus => Statuses.Count > 0 ? Statuses[0] : 0;
}

internal sealed class RoutesHandler : IHttpHandler
{
    public TaskCompletionSource SlowStarted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public int StreamCancelled;

    public async ValueTask HandleAsync(HttpExchange exchange, CancellationToken ct)
    {
        switch (exchange.Path)
        {
            case "/healthz":
                exchange.SetContentType("text/plain");
                exchange.Write("ok"u8);
                break;
            case "/echo":
                byte[] body = await exchange.ReadBodyAsync(ct: ct);
                exchange.SetContentType("application/octet-stream");
                exchange.SetHeader("X-Body-Length", body.Length.ToString(System.Globalization.CultureInfo.InvariantCulture));
                exchange.Write(body);
                break;
            case "/query":
                exchange.Write(Encoding.UTF8.GetBytes(exchange.TryGetQuery("wait", out string? wait) ? wait : "<none>"));
                break;
            case "/slow":
                SlowStarted.TrySetResult();
                await Task.Delay(400, ct);
                exchange.Write("slow done"u8);
                break;
            case "/throw":
                throw new InvalidOperationException("handler failure on purpose");
            case "/stream":
                exchange.StartStreaming("text/plain");
                for (int i = 0; i < 3; i++)
                {
                    await exchange.WriteAsync(Encoding.ASCII.GetBytes($"part{i};"), ct);
                    await exchange.FlushAsync(ct);
                }

                break;
            case "/forever":
                exchange.StartStreaming("text/plain");
                try
                {
                    while (true)
                    {
                        await exchange.WriteAsync("tick\n"u8.ToArray(), ct);
                        await exchange.FlushAsync(ct);
                        await Task.Delay(50, ct);
                    }
                }
                catch (OperationCanceledException)
                {
                    Interlocked.Increment(ref StreamCancelled);
                    throw;
                }

            default:
                exchange.WriteError(404, "not_found", "no such route");
                break;
        }
    }
}
