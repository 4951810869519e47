using InfraMind.Node.Configuration;
using InfraMind.Node.Hardware.Nvml;

namespace InfraMind.Node.Doctor;

/// <summary>Where the checks look, so tests can point them at fixtures; the defaults are the real host's.</summary>
public sealed record DoctorEnvironment
{
    public string ProcRoot { get; init; } = Hardware.ContainerCgroup.DefaultProcRoot;

    public string CgroupRoot { get; init; } = Hardware.ContainerCgroup.DefaultCgroupRoot;

    public IReadOnlyList<string> CdiDirs { get; init; } = EngineCheck.DefaultCdiDirs;

    /// <summary>The search path for the NVIDIA OCI hook; null means $PATH.</summary>
    public string? SearchPath { get; init; }

    /// <summary>A dead engine socket must not hang the doctor: this bounds connect, /version and /info together.</summary>
    public TimeSpan EngineTimeout { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>Bounds the whole clock-skew probe, every mesh endpoint together.</summary>
    public TimeSpan SchedulerTimeout { get; init; } = TimeSpan.FromSeconds(4);

    public Func<GpuInventory> Gpus { get; init; } = GpuProbe.Read;

    /// <summary>How long NVML gets to list the GPUs.</summary>
    public TimeSpan NvmlTimeout { get; init; } = TimeSpan.FromSeconds(15);
}

/// <summary>
/// The preflight checks of `infra doctor` (CONTRACT.md §1). Each one is independent, never throws, is bounded in time,
/// and says how to fix what it finds. The clock-skew probe runs beside the others, so the slowest network wait is paid once.
/// </summary>
public static class HostChecks
{
    public static IReadOnlyList<CheckResult> RunAll(NodeConfig config, HostPaths host) => RunAll(config, host, new DoctorEnvironment());

    public static IReadOnlyList<CheckResult> RunAll(NodeConfig config, HostPaths host, DoctorEnvironment environment)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(environment);
        Task<CheckResult> skew = Task.Run(() => GuardAsync("clock skew", () => ClockSkewCheck.RunAsync(config.Mesh.Endpoints, environment.SchedulerTimeout)));

        var results = new List<CheckResult>
        {
            Guard("identity", () => IdentityCheck.Run(config.Node.Identity)),
            Guard("state dir", () => StateDirectory(config)),
            Guard("cache disk", () => CacheDiskCheck.Run(config.CacheDir, config.Cache.MaxBytes)),
            Guard("cgroups", () => CgroupCheck.Run(environment.ProcRoot, environment.CgroupRoot)),
        };

        EngineFacts facts = new(null, null);
        results.Add(Guard("engine", () =>
        {
            (CheckResult result, facts) = EngineCheck.Run(config, host, environment.EngineTimeout);
            return result;
        }));

        GpuInventory? gpus = null;
        results.Add(Guard("gpu", () =>
        {
            // nvmlInit can stall for seconds per GPU on a sick driver; a native call cannot be cancelled, so stop waiting.
            Task<GpuInventory> probe = Task.Run(environment.Gpus);
            if (Task.WhenAny(probe, Task.Delay(environment.NvmlTimeout)).GetAwaiter().GetResult() != probe)
                return CheckResult.Warning("gpu", $"NVML did not answer within {environment.NvmlTimeout.TotalSeconds:0.#} s: GPU jobs will be rejected", "check `nvidia-smi` and the driver's kernel log (dmesg | grep -i nvrm)");
            return Gpu(gpus = probe.GetAwaiter().GetResult());
        }));
        results.Add(Guard("gpu runtime", () => gpus is null
            ? CheckResult.Warning("gpu runtime", "not checked: reading the GPUs failed", "see the gpu line")
            : EngineCheck.GpuRuntime(gpus, facts, environment.CdiDirs, environment.SearchPath ?? Environment.GetEnvironmentVariable("PATH"))));
        results.Add(Guard("clock", () => Clock(DateTimeOffset.UtcNow)));
        results.Add(skew.GetAwaiter().GetResult());

        PortChecks.ControlState control = PortChecks.ControlState.Unusable;
        CheckResult socket = Guard("control", () =>
        {
            (CheckResult result, control) = PortChecks.ControlSocket(config.Control.Socket);
            return result;
        });
        results.Add(Guard("port", () => PortChecks.ListenerPort(config.Listener.Bind, config.Listener.Port, control)));
        results.Add(socket);
        return results;
    }

    /// <summary>
    /// Runs one check so that a bug in it becomes its own failed line instead of ending the doctor: the other checks
    /// still run and the operator still gets a report. Catching everything is the point here.
    /// </summary>
#pragma warning disable CA1031 // one check's unexpected exception must not hide the others
    internal static CheckResult Guard(string name, Func<CheckResult> check)
    {
        try
        {
            return check();
        }
        catch (Exception e)
        {
            return CheckResult.Failed(name, $"the check itself failed: {e.GetType().Name}: {e.Message}", "report this to the node's maintainers with this line; the other checks are unaffected");
        }
    }

    internal static async Task<CheckResult> GuardAsync(string name, Func<Task<CheckResult>> check)
    {
        try
        {
            return await check().ConfigureAwait(false);
        }
        catch (Exception e)
        {
            return CheckResult.Failed(name, $"the check itself failed: {e.GetType().Name}: {e.Message}", "report this to the node's maintainers with this line; the other checks are unaffected");
        }
    }
#pragma warning restore CA1031

    public static CheckResult StateDirectory(NodeConfig config)
    {
        const string name = "state dir";
        string dir = config.Node.StateDir;
        string? existing = NearestExisting(dir);
        if (existing is null)
            return CheckResult.Failed(name, $"{dir} has no existing parent folder", "set node.state_dir to a path on a mounted filesystem");
        if (File.Exists(existing))
            return CheckResult.Failed(name, $"{existing} is a file, not a folder", "set node.state_dir to a folder path");

        if (!CanWrite(existing))
            return CheckResult.Failed(name, $"{existing} is not writable by this user", $"run as the user that owns {existing}, or set node.state_dir");
        return CheckResult.Ok(name, existing == dir ? $"{dir} (writable)" : $"{dir} (will be created under {existing})");
    }

    /// <summary>
    /// The NVIDIA check: driver, GPU count and names. A host without NVML passes (it simply takes no GPU jobs);
    /// NVML that is present but broken warns with NVML's reason, since the operator probably meant to offer GPUs.
    /// </summary>
    public static CheckResult Gpu(GpuInventory inventory)
    {
        ArgumentNullException.ThrowIfNull(inventory);
        const string name = "gpu";
        switch (inventory.Status)
        {
            case GpuInventoryStatus.LibraryAbsent:
                return CheckResult.Ok(name, "no NVIDIA GPU (NVML not found): GPU jobs will be rejected");
            case GpuInventoryStatus.Ready:
                break;
            default:
                CheckResult failed = CheckResult.FromError(name, inventory.Reason ?? "NVML did not start");
                return CheckResult.Warning(name, failed.Detail + ": GPU jobs will be rejected", failed.Fix ?? "check that `nvidia-smi` works on this host");
        }

        string driver = $"NVIDIA driver {inventory.DriverVersion ?? "(version unknown)"}";
        string problems = inventory.Problems.Count == 0 ? string.Empty : "; " + string.Join("; ", inventory.Problems);
        if (inventory.Gpus.Count == 0)
        {
            string detail = $"{driver}, but NVML lists no usable GPU: GPU jobs will be rejected{problems}";
            return inventory.Problems.Count == 0
                ? CheckResult.Ok(name, detail)
                : CheckResult.Warning(name, detail, "check `nvidia-smi -L` and the driver's kernel log (dmesg | grep -i nvrm)");
        }

        string gpus = string.Join(", ", inventory.Gpus.Select(g =>
            $"{g.Index} {g.Name} ({g.MemoryTotal / (1 << 20)} MiB{(g.ComputeCapability is { } cc ? $", compute {cc}" : string.Empty)})"));
        string summary = $"{driver}, {inventory.Gpus.Count} GPU(s): {gpus}{problems}";
        return inventory.Problems.Count == 0
            ? CheckResult.Ok(name, summary)
            : CheckResult.Warning(name, summary, "check `nvidia-smi -q` for the GPUs named above");
    }

    public static CheckResult Clock(DateTimeOffset now)
    {
        const string name = "clock";
        var floor = DateTimeOffset.FromUnixTimeSeconds(BuildInfo.SourceEpoch);
        return now >= floor
            ? CheckResult.Ok(name, $"{now:yyyy-MM-ddTHH:mm:ssZ}, after this binary's source date")
            : CheckResult.Failed(name, $"the system clock reads {now:yyyy-MM-ddTHH:mm:ssZ}, before this binary's source was written ({floor:yyyy-MM-dd})", "set the time (enable NTP: `timedatectl set-ntp true`); job deadlines and signatures depend on it");
    }

    internal static string? NearestExisting(string path)
    {
        string? current = Path.GetFullPath(path);
        while (current is not null && !Directory.Exists(current) && !File.Exists(current))
            current = Path.GetDirectoryName(current);
        return current;
    }

    internal static bool CanWrite(string folder)
    {
        string probe = Path.Combine(folder, $".infra-doctor-{Environment.ProcessId}");
        try
        {
            File.WriteAllBytes(probe, []);
            File.Delete(probe);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }
}
