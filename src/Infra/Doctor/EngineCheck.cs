using InfraMind.Node.Configuration;
using InfraMind.Node.Containers;
using InfraMind.Node.Containers.Engine;
using InfraMind.Node.Hardware.Nvml;

namespace InfraMind.Node.Doctor;

/// <summary>What the engine said, for the checks that depend on it (the GPU runtime); null fields when it did not answer.</summary>
public sealed record EngineFacts(EngineKind? Kind, InfoResponse? Info);

/// <summary>
/// The container engine: reachable, its version and API, and whether it can enforce the sandbox's limits
/// (its /info flags); and, when NVML lists GPUs, whether it can hand them to containers (an nvidia runtime or CDI specs).
/// </summary>
public static class EngineCheck
{
    /// <summary>Where CDI specs live by default (the CDI spec's static and dynamic folders).</summary>
    public static readonly IReadOnlyList<string> DefaultCdiDirs = ["/etc/cdi", "/var/run/cdi"];

    /// <summary>A CDI spec larger than this is not one (real NVIDIA specs are a few hundred KiB on 8-GPU hosts).</summary>
    public const int MaxCdiSpecBytes = 4 << 20;

    /// <summary>The OCI hook Docker's `--gpus` (a DeviceRequest with driver "nvidia", which the sandbox sends) looks up on PATH.</summary>
    public const string NvidiaHook = "nvidia-container-runtime-hook";

    private const string Name = "engine";
    private const string GpuName = "gpu runtime";

    public static (CheckResult Result, EngineFacts Facts) Run(NodeConfig config, HostPaths host, TimeSpan timeout)
    {
        ArgumentNullException.ThrowIfNull(config);
        using var cancel = new CancellationTokenSource(timeout);
        EngineClient? client = null;
        try
        {
            client = EngineLocator.ConnectAsync(config, host, cancel.Token).GetAwaiter().GetResult();
            string detail = $"{client.Kind.ToString().ToLowerInvariant()} {client.EngineVersion} (API {client.ApiVersion}) at {client.SocketPath}";
            InfoResponse info;
            try
            {
                info = client.InfoAsync(cancel.Token).GetAwaiter().GetResult();
            }
            catch (Exception e) when (e is EngineException or OperationCanceledException)
            {
                string why = e is OperationCanceledException ? $"no answer within {timeout.TotalSeconds:0.#} s" : e.Message;
                return (CheckResult.Warning(Name, $"{detail}; its /info failed ({why}), so its limit support is unknown", "check the engine's log (journalctl -u docker / podman)"), new EngineFacts(client.Kind, null));
            }

            return (Judge(detail, info), new EngineFacts(client.Kind, info));
        }
        catch (EngineException e)
        {
            return (CheckResult.FromError(Name, e.Message), new EngineFacts(null, null));
        }
        catch (OperationCanceledException)
        {
            return (CheckResult.Failed(Name, $"the engine did not answer within {timeout.TotalSeconds:0.#} s", "check that dockerd or the podman service is healthy (`docker info` / `podman info`)"), new EngineFacts(null, null));
        }
        finally
        {
            client?.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
    }

    /// <summary>The engine line from its /info: the cgroup it uses and each limit the sandbox needs enforced.</summary>
    public static CheckResult Judge(string engine, InfoResponse info)
    {
        ArgumentNullException.ThrowIfNull(info);
        string cgroup = $"cgroup v{info.CgroupVersion ?? "?"} ({info.CgroupDriver ?? "driver unknown"})";
        var missing = new List<string>();
        if (!info.MemoryLimit)
            missing.Add("memory");
        if (!info.CpuCfsQuota)
            missing.Add("cpu quota");
        if (!info.PidsLimit)
            missing.Add("pids");
        if (missing.Count > 0)
        {
            return CheckResult.Failed(Name, $"{engine}, {cgroup}: cannot enforce {string.Join(", ", missing)} limits, so every job would be refused",
                "enable those cgroup controllers for the engine (cgroup v2: delegate cpu, memory, pids to its cgroup; v1: mount them) and restart it");
        }

        if (!info.SwapLimit)
            return CheckResult.Warning(Name, $"{engine}, {cgroup}: no swap limit support, so a job may swap beyond its memory limit", "boot with swapaccount=1 (cgroup v1) or enable memory.swap accounting, then restart the engine");
        return CheckResult.Ok(Name, $"{engine}, {cgroup}, limits: memory, swap, cpu, pids");
    }

    /// <summary>
    /// Only when NVML lists GPUs: can the engine give one to a container? Docker needs the nvidia runtime or its OCI hook
    /// (the sandbox asks with driver "nvidia") or CDI specs; Podman needs CDI specs (or the nvidia runtime).
    /// </summary>
    public static CheckResult GpuRuntime(GpuInventory gpus, EngineFacts engine, IReadOnlyList<string> cdiDirs, string? path)
    {
        ArgumentNullException.ThrowIfNull(gpus);
        ArgumentNullException.ThrowIfNull(engine);
        ArgumentNullException.ThrowIfNull(cdiDirs);
        if (!gpus.Available || gpus.Gpus.Count == 0)
            return CheckResult.Skipped(GpuName, "no GPU listed by NVML, so no GPU runtime is needed");
        if (engine.Kind is not { } kind)
            return CheckResult.Warning(GpuName, $"NVML lists {gpus.Gpus.Count} GPU(s), but the engine did not answer, so its GPU support is unknown", "fix the engine (see its line), then run infra doctor again");

        var found = new List<string>();
        if (engine.Info?.Runtimes is { } runtimes)
        {
            foreach (string runtime in runtimes.Keys)
            {
                if (runtime.Contains("nvidia", StringComparison.OrdinalIgnoreCase))
                    found.Add($"runtime {runtime}");
            }
        }

        IEnumerable<string> dirs = cdiDirs.Concat(engine.Info?.CDISpecDirs ?? []).Distinct(StringComparer.Ordinal);
        found.AddRange(FindNvidiaCdiSpecs(dirs).Select(s => $"CDI spec {s}"));
        if (kind == EngineKind.Docker && FindOnPath(NvidiaHook, path) is { } hook)
            found.Add($"hook {hook}");

        string engineName = kind.ToString().ToLowerInvariant();
        if (found.Count > 0)
            return CheckResult.Ok(GpuName, $"{engineName} can hand out GPUs: {string.Join(", ", found)}");

        string fix = kind == EngineKind.Docker
            ? "install the NVIDIA Container Toolkit, then `nvidia-ctk runtime configure --runtime=docker && systemctl restart docker`"
            : "install the NVIDIA Container Toolkit, then `nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml`";
        return CheckResult.Failed(GpuName,
            $"NVML lists {gpus.Gpus.Count} GPU(s), but {engineName} has no nvidia runtime{(kind == EngineKind.Docker ? $", no {NvidiaHook} on PATH" : string.Empty)} and no NVIDIA CDI spec in {string.Join(", ", dirs)}: GPU jobs would fail to start",
            fix);
    }

    /// <summary>CDI spec files (*.json, *.yaml, *.yml) that declare NVIDIA devices; unreadable, oversized or unrelated files are passed over.</summary>
    internal static List<string> FindNvidiaCdiSpecs(IEnumerable<string> dirs)
    {
        var specs = new List<string>();
        foreach (string dir in dirs)
        {
            IEnumerable<string> files;
            try
            {
                files = Directory.Exists(dir) ? Directory.EnumerateFiles(dir).Take(256).ToList() : [];
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                continue;
            }

            foreach (string file in files)
            {
                string extension = Path.GetExtension(file);
                if (extension is not (".json" or ".yaml" or ".yml"))
                    continue;
                if (DeclaresNvidiaGpus(file))
                    specs.Add(file);
            }
        }

        return specs;
    }

    private static bool DeclaresNvidiaGpus(string file)
    {
        // Only regular files: opening a FIFO planted there would block the doctor forever.
        if (!Interop.Libc.TryStat(file, out _, out uint mode, out _) || (mode & Interop.Libc.FileTypeMask) != Interop.Libc.RegularFile)
            return false;
        try
        {
            using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 0);
            if (stream.Length > MaxCdiSpecBytes)
                return false;
            byte[] bytes = new byte[(int)stream.Length];
            stream.ReadExactly(bytes);
            // The spec's "kind" names the devices it offers: nvidia-ctk writes nvidia.com/gpu.
            return bytes.AsSpan().IndexOf("nvidia.com/gpu"u8) >= 0;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static string? FindOnPath(string program, string? path)
    {
        foreach (string dir in (path ?? string.Empty).Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            string candidate = Path.Join(dir, program);
            if (File.Exists(candidate))
                return candidate;
        }

        return null;
    }
}
