using System.Globalization;
using System.Text;
using System.Text.Json;
using InfraMind.Node.Containers.Engine;
using InfraMind.Node.Crypto;
using InfraMind.Node.Hardware;

namespace InfraMind.Node.Containers.Sandbox;

/// <summary>What a model asks for (model.yaml resources), in the units the engine and the cgroup use.</summary>
public sealed record ResourceRequest(long MemoryBytes, long CpuMillicores, bool Gpu = false)
{
    public static readonly ResourceRequest Default = new(512L << 20, 1000);
}

/// <summary>
/// The locked-down container of CONTRACT.md §8 for one job: no network, every capability dropped,
/// no-new-privileges, read-only root with a size-capped tmpfs /tmp, pids, memory (no extra swap), CPU and
/// open-file limits, and the labels that let a restarted agent find its own containers.
/// </summary>
public sealed record SandboxSpec(string Image, string JobId, Address Node, ResourceRequest Resources)
{
    public const string JobLabel = "inframind.job";
    public const string NodeLabel = "inframind.node";
    public const string SpecLabel = "inframind.spec";

    public IReadOnlyList<string>? Command { get; init; }

    public IReadOnlyList<string>? Entrypoint { get; init; }

    public IReadOnlyDictionary<string, string>? Environment { get; init; }

    public long PidsLimit { get; init; } = 256;

    public long TmpBytes { get; init; } = 64L << 20;

    public long OpenFiles { get; init; } = 1024;

    /// <summary>RLIMIT_NPROC: per-user, so set high; it only has to be within what the engine may grant.</summary>
    public long ProcessUlimit { get; init; } = 32768;

    /// <summary>The UUID of the one GPU assigned to this job, when the model asks for a GPU.</summary>
    public string? GpuUuid { get; init; }

    /// <summary>A cgroup parent (cgroupfs path) to place the container under; null for the engine's default.</summary>
    public string? CgroupParent { get; init; }

    /// <summary>The engine's create request. <paramref name="stdin"/>: keep stdin open for a stdio model.</summary>
    public ContainerCreateRequest ToCreateRequest(bool stdin)
    {
        if (Resources.Gpu && GpuUuid is null)
            throw new InvalidOperationException("a GPU model needs the GPU assigned to its job (GpuUuid)");

        var labels = new Dictionary<string, string>
        {
            [JobLabel] = JobId,
            [NodeLabel] = Node.ToString(),
        };
        var request = new ContainerCreateRequest
        {
            Image = Image,
            Cmd = Command?.ToList(),
            Entrypoint = Entrypoint?.ToList(),
            Env = Environment?.Select(e => $"{e.Key}={e.Value}").Append($"JOB_ID={JobId}").ToList() ?? [$"JOB_ID={JobId}"],
            Labels = labels,
            AttachStdin = stdin,
            AttachStdout = true,
            AttachStderr = true,
            OpenStdin = stdin,
            StdinOnce = stdin,
            Tty = false,
            NetworkDisabled = true,
            HostConfig = new HostConfig
            {
                NetworkMode = "none",
                CapDrop = ["ALL"],
                SecurityOpt = ["no-new-privileges"],
                ReadonlyRootfs = true,
                Tmpfs = new Dictionary<string, string> { ["/tmp"] = $"rw,nosuid,nodev,size={TmpBytes.ToString(CultureInfo.InvariantCulture)}" },
                PidsLimit = PidsLimit,
                Memory = Resources.MemoryBytes,
                MemorySwap = Resources.MemoryBytes, // equal to Memory: no swap on top
                NanoCpus = Resources.CpuMillicores * 1_000_000,
                // nproc is stated too: given only nofile, Podman fills nproc from the host's maximum, which its
                // service may not raise (EPERM at start). The pids cgroup limit is the real fork guard.
                Ulimits =
                [
                    new Ulimit { Name = "nofile", Soft = OpenFiles, Hard = OpenFiles },
                    new Ulimit { Name = "nproc", Soft = ProcessUlimit, Hard = ProcessUlimit },
                ],
                CgroupParent = CgroupParent,
                IpcMode = "private",
                DeviceRequests = GpuUuid is null
                    ? null
                    : [new DeviceRequest { Driver = "nvidia", DeviceIDs = [GpuUuid], Capabilities = [["gpu"]] }],
            },
        };
        labels[SpecLabel] = SpecHash(request);
        return request;
    }

    /// <summary>
    /// A deterministic container name from the job id and a hash of the spec, so an agent that restarts
    /// finds the container it made for a job (and a changed spec never collides with an old container).
    /// </summary>
    public string ContainerName(ContainerCreateRequest request)
    {
        var safe = new StringBuilder("inframind-");
        foreach (char c in JobId.Take(40))
            safe.Append(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '_');
        return safe.Append('-').Append(request.Labels![SpecLabel].AsSpan(2, 12)).ToString();
    }

    /// <summary>The limits the container's cgroup must show once it runs.</summary>
    public CgroupLimits ExpectedLimits => new(
        Resources.MemoryBytes,
        Resources.MemoryBytes,
        Resources.CpuMillicores * CgroupLimits.DefaultCpuPeriodMicros / 1000,
        CgroupLimits.DefaultCpuPeriodMicros,
        PidsLimit);

    private static string SpecHash(ContainerCreateRequest request)
    {
        // Hash the request without the spec label itself: the JSON of a request built in a fixed order.
        byte[] json = JsonSerializer.SerializeToUtf8Bytes(request, EngineJson.Default.ContainerCreateRequest);
        return Keccak256.Hash(json).ToString();
    }
}
