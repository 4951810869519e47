using InfraMind.Node.Configuration;
using InfraMind.Node.Crypto;
using InfraMind.Node.Errors;
using InfraMind.Node.Hardware.Nvml;

namespace InfraMind.Node.Doctor;

/// <summary>
/// The preflight checks of `infra doctor` (CONTRACT.md §1). Each one is independent, never throws, and says
/// how to fix what it finds. Later capabilities add theirs here.
/// </summary>
public static class HostChecks
{
    public static IEnumerable<CheckResult> RunAll(NodeConfig config, HostPaths host)
    {
        yield return Identity(config);
        yield return StateDirectory(config);
        yield return CacheDisk(config);
        yield return Engine(config, host);
        yield return Gpu(GpuProbe.Read());
        yield return Clock(DateTimeOffset.UtcNow);
    }

    public static CheckResult Identity(NodeConfig config)
    {
        const string name = "identity";
        try
        {
            using NodeKey key = IdentityFile.Load(config.Node.Identity);
            string mode = IdentityFile.FormatMode(File.GetUnixFileMode(config.Node.Identity));
            return CheckResult.Ok(name, $"node {key.Address} (key {config.Node.Identity}, mode {mode})");
        }
        catch (InfraException e)
        {
            return CheckResult.FromError(name, e.Message);
        }
    }

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

    public static CheckResult CacheDisk(NodeConfig config)
    {
        const string name = "cache disk";
        string dir = config.CacheDir;
        string? existing = NearestExisting(dir);
        if (existing is null)
            return CheckResult.Failed(name, $"{dir} has no existing parent folder", "set cache.dir to a path on a mounted filesystem");

        long free;
        try
        {
            free = new DriveInfo(existing).AvailableFreeSpace;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return CheckResult.Failed(name, $"cannot measure free space at {existing}: {e.Message}", "set cache.dir to a readable, mounted folder");
        }

        long budget = config.Cache.MaxBytes;
        string summary = $"{dir}: {ByteSize.Format(free / (1 << 20) * (1 << 20))} free, budget {ByteSize.Format(budget)}";
        return free >= budget
            ? CheckResult.Ok(name, summary)
            : CheckResult.Failed(name, summary, $"free space on that filesystem, or lower cache.max_bytes to at most {ByteSize.Format(free / (1 << 20) * (1 << 20))}");
    }

    public static CheckResult Engine(NodeConfig config, HostPaths host)
    {
        const string name = "engine";
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            Containers.Engine.EngineClient client = Containers.EngineLocator.ConnectAsync(config, host, timeout.Token).GetAwaiter().GetResult();
            string detail = $"{client.Kind.ToString().ToLowerInvariant()} {client.EngineVersion} (API {client.ApiVersion}) at {client.SocketPath}";
            client.DisposeAsync().AsTask().GetAwaiter().GetResult();
            return CheckResult.Ok(name, detail);
        }
        catch (Containers.Engine.EngineException e)
        {
            return CheckResult.FromError(name, e.Message);
        }
        catch (OperationCanceledException)
        {
            return CheckResult.Failed(name, "the engine did not answer within 5 s", "check that dockerd or the podman service is healthy");
        }
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
            ? CheckResult.Ok(name, $"{now:yyyy-MM-ddTHH:mm:ssZ} (skew against the scheduler is checked once the mesh link is up)")
            : CheckResult.Failed(name, $"the system clock reads {now:yyyy-MM-ddTHH:mm:ssZ}, before this binary's source was written ({floor:yyyy-MM-dd})", "set the time (enable NTP: `timedatectl set-ntp true`); job deadlines and signatures depend on it");
    }

    private static string? NearestExisting(string path)
    {
        string? current = Path.GetFullPath(path);
        while (current is not null && !Directory.Exists(current) && !File.Exists(current))
            current = Path.GetDirectoryName(current);
        return current;
    }

    private static bool CanWrite(string folder)
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
