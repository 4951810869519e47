using System.Net;
using System.Net.Sockets;
using BenchmarkDotNet.Attributes;
using InfraMind.Node.Listener.Http;
using InfraMind.Node.Listener.Routes;
using InfraMind.Node.Telemetry;

namespace InfraMind.Node.Benchmarks;

/// <summary>
/// A whole keep-alive request through the listener: the real <see cref="HttpServer"/> on loopback, one client socket
/// that sends a GET and reads the answer into fixed buffers. <c>/healthz</c> is the fixed probe body; <c>/v1/status</c>
/// is the status route's document (<see cref="StatusView"/> from live telemetry, source-generated JSON).
/// Names starting with HttpServe are held to 0 B/op by <see cref="AllocationBudget"/>: a request that allocates
/// grows the GC heap under load (before the pooled read loop and the struct status view, 1.4 KB per status request
/// took the node from 19 to 36 MB resident under wrk).
/// </summary>
[MemoryDiagnoser]
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "BenchmarkDotNet wants unsealed classes and disposes through [GlobalCleanup]")]
public class HttpServeBenchmarks
{
    private static readonly byte[] HealthRequest = "GET /healthz HTTP/1.1\r\nHost: bench\r\n\r\n"u8.ToArray();
    private static readonly byte[] StatusRequest = "GET /v1/status HTTP/1.1\r\nHost: bench\r\n\r\n"u8.ToArray();

    private readonly byte[] _response = new byte[16 * 1024];
    private HttpServer _server = null!;
    private Socket _client = null!;

    [GlobalSetup]
    public void Setup()
    {
        var telemetry = new NodeTelemetry("0xB71c3f0000000000000000000000000000000001", "europe-west", "0.1.0", DateTimeOffset.UtcNow);
        telemetry.RecordJobFinished(JobFinalState.Succeeded, TimeSpan.FromMilliseconds(42));
        var sampler = new TelemetrySampler(new HostLoad(), new ProcessStats());
        _server = new HttpServer(new ProbeRoutes(telemetry, sampler));
        _server.Start([new IPEndPoint(IPAddress.Loopback, 0)]);
        _client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        _client.Connect(_server.EndPoints[0]);
        if (HttpServeHealthz() <= 0 || HttpServeStatus() <= 0)
            throw new InvalidOperationException("the benchmark server did not answer 200");
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _client.Dispose();
        _server.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }

    [Benchmark(Baseline = true)]
    public int HttpServeHealthz() => RoundTrip(HealthRequest);

    [Benchmark]
    public int HttpServeStatus() => RoundTrip(StatusRequest);

    /// <summary>Sends one request and reads its whole answer; returns the body length, or -1 when it was not a 200.</summary>
    private int RoundTrip(byte[] request)
    {
        _client.Send(request);
        int have = 0;
        int headEnd;
        while ((headEnd = _response.AsSpan(0, have).IndexOf("\r\n\r\n"u8)) < 0)
            have += Receive(have);

        ReadOnlySpan<byte> head = _response.AsSpan(0, headEnd);
        if (!head.StartsWith("HTTP/1.1 200 "u8))
            return -1;
        int at = head.IndexOf("\r\nContent-Length: "u8);
        if (at < 0)
            return -1;
        ReadOnlySpan<byte> digits = head[(at + "\r\nContent-Length: ".Length)..];
        int length = 0;
        for (int i = 0; i < digits.Length && digits[i] is >= (byte)'0' and <= (byte)'9'; i++)
            length = (length * 10) + (digits[i] - '0');

        int total = headEnd + 4 + length;
        while (have < total)
            have += Receive(have);
        return length;
    }

    private int Receive(int offset)
    {
        int n = _client.Receive(_response, offset, _response.Length - offset, SocketFlags.None);
        if (n == 0)
            throw new InvalidOperationException("the server closed the connection");
        return n;
    }

    /// <summary>The two read routes, answered by <see cref="PublicRoutes"/>' own code, without the job pipeline behind it.</summary>
    private sealed class ProbeRoutes(NodeTelemetry telemetry, TelemetrySampler sampler) : IHttpHandler
    {
        public ValueTask HandleAsync(HttpExchange exchange, CancellationToken ct)
        {
            if (exchange.PathBytes.SequenceEqual("/healthz"u8))
                PublicRoutes.Health(exchange);
            else
                PublicRoutes.Status(exchange, telemetry, sampler, meshConfigured: false);
            return ValueTask.CompletedTask;
        }
    }
}
