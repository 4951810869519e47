using System.Text.Json.Serialization;

namespace InfraMind.Scheduler;

/// <summary>The body of POST /admin/jobs and the jobs file: the job fields of CONTRACT.md §3, most optional.</summary>
public sealed record JobDraft(
    [property: JsonPropertyName("job_id")] string JobId,
    [property: JsonPropertyName("model_hash")] string? ModelHash = null,
    [property: JsonPropertyName("container_uri")] string? ContainerUri = null,
    [property: JsonPropertyName("entrypoint")] string? Entrypoint = null,
    [property: JsonPropertyName("expected_schema")] SchemaDraft? ExpectedSchema = null,
    [property: JsonPropertyName("input")] string? Input = null,
    [property: JsonPropertyName("deadline")] ulong? Deadline = null,
    [property: JsonPropertyName("node")] string? Node = null,
    [property: JsonPropertyName("bad_signature")] bool? BadSignature = null);

public sealed record SchemaDraft(
    [property: JsonPropertyName("input")] string Input,
    [property: JsonPropertyName("output")] string Output);

public sealed record AdminAnswer(
    [property: JsonPropertyName("ok")] bool Ok,
    [property: JsonPropertyName("message")] string Message,
    [property: JsonPropertyName("streams")] int Streams);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(JobDraft))]
[JsonSerializable(typeof(JobDraft[]))]
[JsonSerializable(typeof(AdminAnswer))]
[JsonSerializable(typeof(SchedulerEvent[]))]
public sealed partial class SchedulerJson : JsonSerializerContext;
