using System.Buffers;
using System.Text.Json;
using System.Text.Json.Serialization;
using InfraMind.Node.Jobs;
using InfraMind.Node.Jobs.Intake;
using InfraMind.Node.Listener.Http;
using InfraMind.Node.Receipts;
using InfraMind.Node.Telemetry;

namespace InfraMind.Node.Listener.Routes;

/// <summary>Whether the node can take work now: each check by name, for /readyz and `infra status`.</summary>
public interface IReadiness
{
    IReadOnlyList<ReadinessCheck> Check();
}

public sealed record ReadinessCheck(string Name, bool Ok, string Detail);

/// <summary>
/// The public REST port (CONTRACT.md §4). Every error is {"error","message"} with the contract's status;
/// a job that names itself gets its signed rejection in the error body too.
/// </summary>
public sealed class PublicRoutes(JobPipeline pipeline, NodeTelemetry telemetry, TelemetrySampler sampler, ReceiptLog log, ReceiptBatcher batcher, IReadiness readiness) : IHttpHandler
{
    /// <summary>The limit for a job document (most of it is the input).</summary>
    public const int MaxJobBytes = JobJson.DefaultMaxBytes;

    /// <summary>How long <c>?wait=true</c> holds the request at most; past it the answer is 202 and the caller polls.</summary>
    public static readonly TimeSpan MaxWait = TimeSpan.FromMinutes(10);

    /// <summary>Whether mesh.endpoints is set; without it the node is standalone, not "disconnected".</summary>
    public bool MeshConfigured { get; init; }

    public ValueTask HandleAsync(HttpExchange exchange, CancellationToken ct)
    {
        // The probes that load balancers and scrapers hit all day are matched on bytes, with no string made.
        ReadOnlySpan<byte> raw = exchange.PathBytes;
        if (exchange.Method == RequestMethod.Get)
        {
            if (raw.SequenceEqual("/healthz"u8))
            {
                Health(exchange);
                return ValueTask.CompletedTask;
            }

            if (raw.SequenceEqual("/v1/status"u8))
            {
                Status(exchange);
                return ValueTask.CompletedTask;
            }
        }

        return HandleSlowAsync(exchange, ct);
    }

    private async ValueTask HandleSlowAsync(HttpExchange exchange, CancellationToken ct)
    {
        string path = exchange.Path;
        int query = path.IndexOf('?', StringComparison.Ordinal);
        if (query >= 0)
            path = path[..query];

        switch (path)
        {
            case "/healthz":
                if (Only(exchange, RequestMethod.Get))
                    Health(exchange);
                return;
            case "/readyz":
                if (Only(exchange, RequestMethod.Get))
                    Ready(exchange);
                return;
            case "/v1/status":
                if (Only(exchange, RequestMethod.Get))
                    Status(exchange);
                return;
            case "/metrics":
                if (!Only(exchange, RequestMethod.Get))
                    return;
                exchange.SetContentType("text/plain; version=0.0.4; charset=utf-8");
                PrometheusWriter.Write(exchange.Body, telemetry, sampler);
                return;
            case "/v1/jobs":
                if (Only(exchange, RequestMethod.Post))
                    await SubmitAsync(exchange, ct).ConfigureAwait(false);
                return;
            case "/v1/receipts/batch":
                if (Only(exchange, RequestMethod.Get))
                    Batch(exchange);
                return;
        }

        if (path.StartsWith("/v1/jobs/", StringComparison.Ordinal) && Only(exchange, RequestMethod.Get))
        {
            string id = Uri.UnescapeDataString(path["/v1/jobs/".Length..]);
            if (pipeline.Board.TryGet(id, out JobRecord? record))
                WriteJob(exchange, 200, record!);
            else if (log.TryGet(id, out SignedReceipt? receipt))
                WriteLoggedReceipt(exchange, receipt!);
            else
                exchange.WriteError(404, "unknown_job", $"no job '{Truncate(id)}' on this node");
            return;
        }

        if (!path.StartsWith("/v1/jobs/", StringComparison.Ordinal))
            exchange.WriteError(404, "not_found", $"no route {Truncate(path)}: see /healthz, /readyz, /v1/status, /metrics, /v1/jobs, /v1/receipts/batch");
    }

    internal static void Health(HttpExchange exchange)
    {
        exchange.SetContentType("application/json");
        exchange.Write("{\"status\":\"ok\"}"u8);
    }

    // Read straight from the live counters, as /metrics does: a whole snapshot (arrays, histogram, outcome history)
    // would be garbage on every poll of the busiest read route.
    private void Status(HttpExchange exchange) => Status(exchange, telemetry, sampler, MeshConfigured);

    internal static void Status(HttpExchange exchange, NodeTelemetry telemetry, TelemetrySampler sampler, bool meshConfigured) =>
        exchange.WriteJson(StatusView.From(telemetry, sampler, meshConfigured), ListenerJson.Default.StatusView);

    private static bool Only(HttpExchange exchange, RequestMethod method)
    {
        if (exchange.Method == method || (method == RequestMethod.Get && exchange.Method == RequestMethod.Head))
            return true;
        exchange.SetHeader("Allow", method == RequestMethod.Get ? "GET, HEAD" : method.ToString().ToUpperInvariant());
        exchange.WriteError(405, "method_not_allowed", $"use {method.ToString().ToUpperInvariant()} here");
        return false;
    }

    private void Ready(HttpExchange exchange)
    {
        IReadOnlyList<ReadinessCheck> checks = readiness.Check();
        bool ok = checks.All(c => c.Ok) && !pipeline.Draining;
        exchange.SetStatus(ok ? 200 : 503);
        exchange.SetContentType("application/json");
        using var json = new Utf8JsonWriter(exchange.Body);
        json.WriteStartObject();
        json.WriteBoolean("ready", ok);
        json.WriteBoolean("draining", pipeline.Draining);
        json.WriteStartObject("checks");
        foreach (ReadinessCheck check in checks)
        {
            json.WriteStartObject(check.Name);
            json.WriteBoolean("ok", check.Ok);
            json.WriteString("detail", check.Detail);
            json.WriteEndObject();
        }

        json.WriteEndObject();
        json.WriteEndObject();
    }

    private async ValueTask SubmitAsync(HttpExchange exchange, CancellationToken ct)
    {
        string? contentType = exchange.ContentType;
        if (contentType is null || !contentType.Split(';')[0].Trim().Equals("application/json", StringComparison.OrdinalIgnoreCase))
        {
            exchange.WriteError(415, "wrong_content_type", "send the job as Content-Type: application/json");
            return;
        }

        byte[] body;
        try
        {
            body = await exchange.ReadBodyAsync(MaxJobBytes, ct).ConfigureAwait(false);
        }
        catch (HttpRequestRejectedException e) when (e.StatusCode == 413)
        {
            exchange.WriteError(413, "too_large", $"the job is larger than {MaxJobBytes} bytes");
            return;
        }

        JobRecord record;
        try
        {
            record = pipeline.Submit(JobJson.Parse(body, MaxJobBytes));
        }
        catch (JobRejectedException e)
        {
            WriteRejection(exchange, e);
            return;
        }

        if (!exchange.TryGetQuery("wait", out string? wait) || wait is not ("true" or "1"))
        {
            exchange.SetStatus(202);
            exchange.WriteJson(new JobAccepted(record.JobId, record.State.Code()), ListenerJson.Default.JobAccepted);
            return;
        }

        try
        {
            // WaitAsync, not WhenAny with Task.Delay: that left a ten-minute timer behind every answered request.
            await record.Finished.WaitAsync(MaxWait, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is TimeoutException || (e is OperationCanceledException && ct.IsCancellationRequested))
        {
            exchange.SetStatus(202);
            exchange.WriteJson(new JobAccepted(record.JobId, record.State.Code()), ListenerJson.Default.JobAccepted);
            return;
        }

        WriteJob(exchange, 200, record);
    }

    private static void WriteRejection(HttpExchange exchange, JobRejectedException e)
    {
        exchange.SetStatus(e.Reason.HttpStatus());
        exchange.SetContentType("application/json");
        using var json = new Utf8JsonWriter(exchange.Body);
        json.WriteStartObject();
        json.WriteString("error", e.Reason.Code());
        json.WriteString("message", e.Message);
        if (e.RejectionJson is { } rejection)
        {
            json.WritePropertyName("rejection");
            json.WriteRawValue(rejection, skipInputValidation: true);
        }

        json.WriteEndObject();
    }

    /// <summary>A job's state, timestamps, output and, once final, its receipt (or signed rejection).</summary>
    private static void WriteJob(HttpExchange exchange, int status, JobRecord record)
    {
        exchange.SetStatus(status);
        exchange.SetContentType("application/json");
        using var json = new Utf8JsonWriter(exchange.Body);
        json.WriteStartObject();
        json.WriteString("job_id", record.JobId);
        json.WriteString("state", record.State.Code());
        json.WriteString("job_hash", record.JobHash.ToString());
        json.WriteString("received_at", record.ReceivedAt);
        if (record.PrepareStartedAt is { } prepared)
            json.WriteString("prepare_started_at", prepared);
        if (record.StartedAt is { } started)
            json.WriteString("started_at", started);
        if (record.FinishedAt is { } finished)
            json.WriteString("finished_at", finished);
        if (record.Message is { } message)
            json.WriteString("message", message);
        if (record.RejectReason is { } reason)
            json.WriteString("reason", reason.Code());
        if (record.Progress is { } p && !record.State.IsFinal())
        {
            json.WriteStartObject("progress");
            json.WriteString("phase", p.Phase.ToString().ToLowerInvariant());
            json.WriteNumber("bytes", p.Bytes);
            if (p.TotalBytes is { } total)
                json.WriteNumber("total_bytes", total);
            json.WriteNumber("blocks", p.Blocks);
            json.WriteNumber("bytes_per_second", Math.Round(p.BytesPerSecond));
            json.WriteEndObject();
        }

        if (record.Output is { } output)
        {
            json.WritePropertyName("output");
            if (IsJson(output))
                json.WriteRawValue(output, skipInputValidation: true);
            else
                json.WriteStringValue(output);
        }
        else if (record.OutputReleased)
        {
            // Finished jobs' outputs are kept up to a byte budget (JobBoard); the receipt still names its hash.
            json.WriteBoolean("output_released", true);
        }

        if (record.ReceiptJson is { } receipt)
        {
            json.WritePropertyName(record.State == JobState.Rejected ? "rejection" : "receipt");
            json.WriteRawValue(receipt, skipInputValidation: true);
        }

        json.WriteEndObject();
    }

    private static void WriteLoggedReceipt(HttpExchange exchange, SignedReceipt receipt)
    {
        exchange.SetContentType("application/json");
        using var json = new Utf8JsonWriter(exchange.Body);
        json.WriteStartObject();
        json.WriteString("job_id", receipt.JobId);
        json.WriteString("state", receipt.Receipt.Status);
        json.WritePropertyName("receipt");
        receipt.WriteJson(json);
        json.WriteEndObject();
    }

    private void Batch(HttpExchange exchange)
    {
        IReadOnlyList<SignedReceipt> receipts = log.Latest(batcher.MaxReceipts);
        if (receipts.Count == 0)
        {
            exchange.WriteError(404, "no_receipts", "no receipts have been logged yet; run a job first");
            return;
        }

        if (!batcher.TryBuild(receipts, out SignedReceiptBatch? batch))
        {
            exchange.WriteError(500, "batch_failed", "the logged receipts could not be batched; see the agent log");
            return;
        }

        exchange.SetContentType("application/json");
        using var json = new Utf8JsonWriter(exchange.Body);
        batch!.WriteJson(json);
    }

    private static bool IsJson(byte[] value)
    {
        var reader = new Utf8JsonReader(value);
        try
        {
            while (reader.Read())
            {
            }

            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private static string Truncate(string s) => s.Length <= 80 ? s : s[..80] + "…";
}

public readonly record struct JobAccepted(
    [property: JsonPropertyName("job_id")] string JobId,
    [property: JsonPropertyName("state")] string State);

/// <summary>GET /v1/status (CONTRACT.md §4), from the same live counters as heartbeats, /metrics and `infra status`.</summary>
/// <remarks>Structs, so answering allocates nothing: the source-generated writer takes them by value.</remarks>
public readonly record struct StatusView(
    [property: JsonPropertyName("node_id")] string NodeId,
    [property: JsonPropertyName("region")] string Region,
    [property: JsonPropertyName("version")] string Version,
    [property: JsonPropertyName("uptime_s")] long UptimeS,
    [property: JsonPropertyName("jobs_served")] long JobsServed,
    [property: JsonPropertyName("jobs_failed")] long JobsFailed,
    [property: JsonPropertyName("avg_latency_ms")] double AvgLatencyMs,
    [property: JsonPropertyName("active_jobs")] long ActiveJobs,
    [property: JsonPropertyName("queue_depth")] long QueueDepth,
    [property: JsonPropertyName("cache_hit_ratio")] double CacheHitRatio,
    [property: JsonPropertyName("stake")] string? Stake,
    [property: JsonPropertyName("mesh")] MeshView Mesh,
    [property: JsonPropertyName("cpu_utilization")] double? CpuUtilization,
    [property: JsonPropertyName("memory_utilization")] double? MemoryUtilization,
    [property: JsonPropertyName("resident_memory_bytes")] long? ResidentMemoryBytes)
{
    public static StatusView From(NodeTelemetry t, TelemetrySampler sampler, bool meshConfigured)
    {
        DateTimeOffset now = t.Time.GetUtcNow();
        HostLoadSample host = sampler.LatestHost;
        ProcessSample? process = sampler.LatestProcess;
        return new StatusView(
            t.NodeId, t.Region, t.Version, (long)t.UptimeSeconds(now), t.JobsServed, t.JobsFailed, Math.Round(t.MeanLatencyMs, 1),
            t.ActiveJobs, t.QueueDepth, Math.Round(t.CacheHitRatio, 4), t.Stake,
            new MeshView(
                meshConfigured ? TelemetryCodes.Name(t.MeshState) : "standalone",
                t.HeartbeatAgeSeconds(now) is { } age ? Math.Round(age, 1) : null,
                t.MeshReconnects, t.UnackedReceipts, t.IdleWithoutJobs),
            host.CpuUtilization, host.MemoryUtilization, process?.ResidentBytes);
    }
}

public readonly record struct MeshView(
    [property: JsonPropertyName("state")] string State,
    [property: JsonPropertyName("heartbeat_age_s")] double? HeartbeatAgeS,
    [property: JsonPropertyName("reconnects")] long Reconnects,
    [property: JsonPropertyName("unacked_receipts")] long UnackedReceipts,
    [property: JsonPropertyName("idle_without_jobs")] bool IdleWithoutJobs);

[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
[JsonSerializable(typeof(StatusView))]
[JsonSerializable(typeof(JobAccepted))]
internal sealed partial class ListenerJson : JsonSerializerContext;
