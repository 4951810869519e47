using System.Net;
using System.Text.Json.Serialization;
using InfraMind.Node.Listener.Http;

namespace InfraMind.Node.ListenerHost;

/// <summary>
/// Serves GET /healthz ("ok") and GET /v1/status (a small JSON) through the node's HTTP server, for wrk and h2load.
/// Usage: Infra.ListenerHost [port] (default 9080). Stops on Ctrl+C or SIGTERM with a 2 s drain.
/// </summary>
internal static class Program
{
    public static async Task<int> Main(string[] args)
    {
        int port = args.Length > 0 ? int.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture) : 9080;
        var server = new HttpServer(new Handler(), new HttpServerOptions(), e => Console.Error.WriteLine(e));
        server.Start([new IPEndPoint(IPAddress.Loopback, port)]);
        Console.WriteLine($"listening on {server.EndPoints[0]} (pid {Environment.ProcessId})");
        var stop = new TaskCompletionSource();
        using var sigterm = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, c =>
        {
            c.Cancel = true;
            stop.TrySetResult();
        });
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            stop.TrySetResult();
        };
        await stop.Task;
        await server.StopAsync(TimeSpan.FromSeconds(2));
        return 0;
    }

    private sealed class Handler : IHttpHandler
    {
        private readonly long _started = Environment.TickCount64;

        public ValueTask HandleAsync(HttpExchange exchange, CancellationToken ct)
        {
            if (exchange.PathBytes.SequenceEqual("/healthz"u8))
            {
                exchange.SetContentType("text/plain");
                exchange.Write("ok"u8);
            }
            else if (exchange.PathBytes.SequenceEqual("/v1/status"u8))
            {
                exchange.WriteJson(new Status("0x0000000000000000000000000000000000000000", "unknown", "0.1.0", (Environment.TickCount64 - _started) / 1000, 0, 0), HostJson.Default.Status);
            }
            else
            {
                exchange.WriteError(404, "not_found", "no such route; try /healthz or /v1/status");
            }

            return ValueTask.CompletedTask;
        }
    }
}

internal sealed record Status(
    [property: JsonPropertyName("node_id")] string NodeId,
    [property: JsonPropertyName("region")] string Region,
    [property: JsonPropertyName("version")] string Version,
    [property: JsonPropertyName("uptime_s")] long UptimeSeconds,
    [property: JsonPropertyName("jobs_served")] long JobsServed,
    [property: JsonPropertyName("active_jobs")] int ActiveJobs);

[JsonSerializable(typeof(Status))]
internal sealed partial class HostJson : JsonSerializerContext;
