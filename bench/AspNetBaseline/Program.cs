using System.Text.Json.Serialization;

// The ASP.NET Core template's AOT shape (CreateSlimBuilder, source-generated JSON), answering what infra's
// listener answers: GET /healthz and GET /v1/status with a status document of the same fields.
WebApplicationBuilder builder = WebApplication.CreateSlimBuilder(args);
builder.Logging.ClearProviders();
builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.TypeInfoResolverChain.Insert(0, BaselineJson.Default));
string urls = Environment.GetEnvironmentVariable("BASELINE_URLS") ?? "http://127.0.0.1:9100";
builder.WebHost.UseUrls(urls);

WebApplication app = builder.Build();
DateTimeOffset started = DateTimeOffset.UtcNow;
app.MapGet("/healthz", () => Results.Json(new Health("ok"), BaselineJson.Default.Health));
app.MapGet("/v1/status", () => Results.Json(
    new Status("0xB71c3f5a9d1E4c2b8F6a7D3e9C1b5A2f4E6d8C0a", "europe-west", "0.1.0", (long)(DateTimeOffset.UtcNow - started).TotalSeconds,
        1284, 3, 182.4, 0, 0, 0.9231, "512 INFRA", new Mesh("connected", 1.2, 0, 0, false), 0.12, 0.34, Environment.WorkingSet),
    BaselineJson.Default.Status));
app.Run();

internal sealed record Health([property: JsonPropertyName("status")] string Value);

internal sealed record Mesh(
    [property: JsonPropertyName("state")] string State,
    [property: JsonPropertyName("heartbeat_age_s")] double? HeartbeatAgeS,
    [property: JsonPropertyName("reconnects")] long Reconnects,
    [property: JsonPropertyName("unacked_receipts")] long UnackedReceipts,
    [property: JsonPropertyName("idle_without_jobs")] bool IdleWithoutJobs);

internal sealed record Status(
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
    [property: JsonPropertyName("mesh")] Mesh Mesh,
    [property: JsonPropertyName("cpu_utilization")] double? CpuUtilization,
    [property: JsonPropertyName("memory_utilization")] double? MemoryUtilization,
    [property: JsonPropertyName("resident_memory_bytes")] long? ResidentMemoryBytes);

[JsonSerializable(typeof(Health))]
[JsonSerializable(typeof(Status))]
internal sealed partial class BaselineJson : JsonSerializerContext;
