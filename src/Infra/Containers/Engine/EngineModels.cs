using System.Text.Json.Serialization;

namespace InfraMind.Node.Containers.Engine;

// The slices of the Docker Engine API (v1.41+, which Podman's compatible API also serves) the node uses.
// Property names are the API's own JSON keys; everything else the engine sends is skipped.

public sealed class VersionResponse
{
    public string? Version { get; set; }

    public string? ApiVersion { get; set; }

    public string? MinAPIVersion { get; set; }

    public string? Os { get; set; }

    public string? Arch { get; set; }

    public List<VersionComponent>? Components { get; set; }
}

public sealed class VersionComponent
{
    public string? Name { get; set; }

    public string? Version { get; set; }
}

public sealed class InfoResponse
{
    public string? ServerVersion { get; set; }

    public string? CgroupDriver { get; set; }

    public string? CgroupVersion { get; set; }

    public int NCPU { get; set; }

    public long MemTotal { get; set; }

    public string? OperatingSystem { get; set; }

    public string? Name { get; set; }

    /// <summary>Whether the engine can enforce each sandbox limit (false when the kernel lacks the controller).</summary>
    public bool MemoryLimit { get; set; }

    public bool SwapLimit { get; set; }

    public bool CpuCfsQuota { get; set; }

    public bool PidsLimit { get; set; }

    /// <summary>OCI runtimes by name ("runc", "nvidia", ...); `infra doctor` looks for the NVIDIA one.</summary>
    public Dictionary<string, EngineRuntime>? Runtimes { get; set; }

    /// <summary>Where the engine reads CDI specs (Docker 25+); null on older engines.</summary>
    public List<string>? CDISpecDirs { get; set; }

    public List<string>? Warnings { get; set; }
}

public sealed class EngineRuntime
{
    [JsonPropertyName("path")]
    public string? Path { get; set; }
}

public sealed class ImageInspectResponse
{
    /// <summary>The image ID: the sha256 of its config, as "sha256:…".</summary>
    public string? Id { get; set; }

    public List<string>? RepoTags { get; set; }

    public long Size { get; set; }
}

public sealed class ContainerCreateRequest
{
    public string? Image { get; set; }

    public List<string>? Cmd { get; set; }

    public List<string>? Entrypoint { get; set; }

    public List<string>? Env { get; set; }

    public Dictionary<string, string>? Labels { get; set; }

    public string? WorkingDir { get; set; }

    public string? User { get; set; }

    public bool AttachStdin { get; set; }

    public bool AttachStdout { get; set; }

    public bool AttachStderr { get; set; }

    public bool OpenStdin { get; set; }

    public bool StdinOnce { get; set; }

    public bool Tty { get; set; }

    public bool NetworkDisabled { get; set; }

    public HostConfig? HostConfig { get; set; }
}

public sealed class HostConfig
{
    public string? NetworkMode { get; set; }

    public List<string>? CapDrop { get; set; }

    public List<string>? SecurityOpt { get; set; }

    public bool ReadonlyRootfs { get; set; }

    public Dictionary<string, string>? Tmpfs { get; set; }

    public long? PidsLimit { get; set; }

    public long Memory { get; set; }

    public long MemorySwap { get; set; }

    public long NanoCpus { get; set; }

    public List<Ulimit>? Ulimits { get; set; }

    public string? CgroupParent { get; set; }

    public bool AutoRemove { get; set; }

    public bool Privileged { get; set; }

    public List<DeviceRequest>? DeviceRequests { get; set; }

    public string? IpcMode { get; set; }
}

public sealed class Ulimit
{
    public string? Name { get; set; }

    public long Soft { get; set; }

    public long Hard { get; set; }
}

public sealed class DeviceRequest
{
    public string? Driver { get; set; }

    public List<string>? DeviceIDs { get; set; }

    public List<List<string>>? Capabilities { get; set; }
}

public sealed class ContainerCreateResponse
{
    public string? Id { get; set; }

    public List<string>? Warnings { get; set; }
}

public sealed class ContainerWaitResponse
{
    public long StatusCode { get; set; }

    public WaitError? Error { get; set; }
}

public sealed class WaitError
{
    public string? Message { get; set; }
}

public sealed class ContainerInspectResponse
{
    public string? Id { get; set; }

    public string? Name { get; set; }

    public string? Image { get; set; }

    public ContainerState? State { get; set; }

    public ContainerConfig? Config { get; set; }

    public HostConfig? HostConfig { get; set; }
}

public sealed class ContainerState
{
    public string? Status { get; set; }

    public bool Running { get; set; }

    public int Pid { get; set; }

    public long ExitCode { get; set; }

    public bool OOMKilled { get; set; }

    public string? Error { get; set; }

    public string? StartedAt { get; set; }

    public string? FinishedAt { get; set; }
}

public sealed class ContainerConfig
{
    public string? Image { get; set; }

    public Dictionary<string, string>? Labels { get; set; }
}

public sealed class ContainerSummary
{
    public string? Id { get; set; }

    public List<string>? Names { get; set; }

    public string? Image { get; set; }

    public string? State { get; set; }

    public Dictionary<string, string>? Labels { get; set; }
}

/// <summary>One message of a streamed answer: image load progress, or an event.</summary>
public sealed class EngineMessage
{
    [JsonPropertyName("stream")]
    public string? Stream { get; set; }

    [JsonPropertyName("status")]
    public string? Status { get; set; }

    [JsonPropertyName("error")]
    public string? Error { get; set; }

    [JsonPropertyName("errorDetail")]
    public ErrorDetail? ErrorDetail { get; set; }

    [JsonPropertyName("id")]
    public string? Id { get; set; }

    public string? Type { get; set; }

    public string? Action { get; set; }

    public EventActor? Actor { get; set; }

    [JsonPropertyName("time")]
    public long Time { get; set; }
}

public sealed class ErrorDetail
{
    [JsonPropertyName("message")]
    public string? Message { get; set; }
}

public sealed class EventActor
{
    public string? ID { get; set; }

    public Dictionary<string, string>? Attributes { get; set; }
}

/// <summary>The engine's error body: {"message": "..."}.</summary>
public sealed class ErrorResponse
{
    [JsonPropertyName("message")]
    public string? Message { get; set; }
}

[JsonSourceGenerationOptions(
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    PropertyNameCaseInsensitive = true,
    NumberHandling = JsonNumberHandling.AllowReadingFromString)]
[JsonSerializable(typeof(VersionResponse))]
[JsonSerializable(typeof(InfoResponse))]
[JsonSerializable(typeof(ImageInspectResponse))]
[JsonSerializable(typeof(ContainerCreateRequest))]
[JsonSerializable(typeof(ContainerCreateResponse))]
[JsonSerializable(typeof(ContainerWaitResponse))]
[JsonSerializable(typeof(ContainerInspectResponse))]
[JsonSerializable(typeof(List<ContainerSummary>))]
[JsonSerializable(typeof(EngineMessage))]
[JsonSerializable(typeof(ErrorResponse))]
[JsonSerializable(typeof(Dictionary<string, List<string>>))]
public sealed partial class EngineJson : JsonSerializerContext;
