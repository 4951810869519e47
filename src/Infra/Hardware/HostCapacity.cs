using System.Globalization;
using InfraMind.Node.Containers.Sandbox;
using InfraMind.Node.Errors;
using InfraMind.Node.Hardware.Nvml;

namespace InfraMind.Node.Hardware;

/// <summary>
/// What this host can give jobs: CPU, memory and GPUs as the agent itself is allowed them, less a reserve for the
/// agent. CPU is the smaller of the agent's cgroup quota and the CPUs its affinity mask allows; memory the smaller
/// of its cgroup limit and MemTotal. This is the ceiling a single job is checked against (and the capabilities
/// the node announces), not an account of what running jobs hold.
/// </summary>
/// <remarks>
/// Only the agent's own cgroup is read, not its ancestors: a limit set on a parent slice alone is not seen. Roots are
/// parameters so tests feed fixture trees.
/// </remarks>
public sealed class HostCapacity
{
    /// <summary>Kept back for the agent's own process: its heap, buffers and the native runtime.</summary>
    public const long DefaultMemoryReserveBytes = 64L << 20;

    /// <summary>The kernel's NR_CPUS ceiling is 8192; a mask naming more is not the kernel's.</summary>
    private const int MaxCpus = 8192;

    private HostCapacity(long cpuMillicores, string cpuSource, long memoryBytes, string memorySource, GpuInventory gpus, long reservedCpu, long reservedMemory, IReadOnlyList<string> notes)
    {
        CpuMillicores = cpuMillicores;
        CpuSource = cpuSource;
        MemoryBytes = memoryBytes;
        MemorySource = memorySource;
        Gpus = gpus;
        ReservedCpuMillicores = reservedCpu;
        ReservedMemoryBytes = reservedMemory;
        Notes = notes;
    }

    /// <summary>CPU the agent may use, in thousandths of a CPU, before the reserve.</summary>
    public long CpuMillicores { get; }

    /// <summary>Where <see cref="CpuMillicores"/> came from, for logs and refusals.</summary>
    public string CpuSource { get; }

    /// <summary>Memory the agent may use, in bytes, before the reserve.</summary>
    public long MemoryBytes { get; }

    /// <summary>Where <see cref="MemoryBytes"/> came from.</summary>
    public string MemorySource { get; }

    public GpuInventory Gpus { get; }

    public long ReservedCpuMillicores { get; }

    public long ReservedMemoryBytes { get; }

    /// <summary>What could not be read and was assumed instead, one line each.</summary>
    public IReadOnlyList<string> Notes { get; }

    /// <summary>The most CPU one job can be given.</summary>
    public long JobCpuMillicores => Math.Max(0, CpuMillicores - ReservedCpuMillicores);

    /// <summary>The most memory one job can be given.</summary>
    public long JobMemoryBytes => Math.Max(0, MemoryBytes - ReservedMemoryBytes);

    /// <summary>This host's capacity, with the GPUs NVML lists now.</summary>
    public static HostCapacity Read() => Read(GpuProbe.Read());

    /// <summary>
    /// Reads the capacity of the process <paramref name="processId"/> (default: this one) from
    /// {procRoot}/PID/cgroup and the cgroup tree, {procRoot}/PID/status and {procRoot}/meminfo.
    /// </summary>
    /// <exception cref="InfraException">(Runtime) {procRoot}/meminfo is missing or has no readable MemTotal.</exception>
    public static HostCapacity Read(
        GpuInventory gpus,
        string procRoot = ContainerCgroup.DefaultProcRoot,
        string cgroupRoot = ContainerCgroup.DefaultCgroupRoot,
        int? processId = null,
        long memoryReserveBytes = DefaultMemoryReserveBytes,
        long cpuReserveMillicores = 0)
    {
        ArgumentNullException.ThrowIfNull(gpus);
        ArgumentOutOfRangeException.ThrowIfNegative(memoryReserveBytes);
        ArgumentOutOfRangeException.ThrowIfNegative(cpuReserveMillicores);
        int pid = processId ?? Environment.ProcessId;
        var notes = new List<string>();

        CgroupLimits limits;
        try
        {
            limits = ContainerCgroup.Locate(pid, procRoot, cgroupRoot).ReadLimits();
        }
        catch (InfraException e) when (e.Kind == FailureKind.Runtime)
        {
            // Inside a container without a cgroup namespace the agent's own folder is not where /proc says; count
            // the host's figures rather than refuse to start, and say so.
            notes.Add($"own cgroup not read, so no cgroup limit is counted: {e.Message}");
            limits = CgroupLimits.Unlimited;
        }

        using var files = new CgroupFileReader();
        string statusPath = Path.Join(procRoot, pid.ToString(CultureInfo.InvariantCulture), "status");
        int? allowed = null;
        if (files.TryRead(statusPath, out ReadOnlySpan<byte> status))
        {
            allowed = TryCountAllowedCpus(status);
            if (allowed is null)
                notes.Add($"{statusPath} has no readable Cpus_allowed_list; counted the runtime's processor count instead");
        }
        else
        {
            notes.Add($"{statusPath} is missing; counted the runtime's processor count instead");
        }

        long affinityMillicores = (allowed ?? Environment.ProcessorCount) * 1000L;
        string cpuSource = allowed is { } n
            ? string.Create(CultureInfo.InvariantCulture, $"{n} CPUs allowed (affinity)")
            : string.Create(CultureInfo.InvariantCulture, $"{Environment.ProcessorCount} CPUs (runtime)");
        long cpu = affinityMillicores;
        if (limits.CpuMillicores is { } quota && quota < affinityMillicores)
        {
            cpu = quota;
            cpuSource = string.Create(CultureInfo.InvariantCulture, $"cgroup CPU quota {limits.CpuQuotaMicros}/{limits.CpuPeriodMicros} µs");
        }

        string meminfoPath = Path.Join(procRoot, "meminfo");
        if (!files.TryRead(meminfoPath, out ReadOnlySpan<byte> meminfo))
            ThrowHelper.ThrowRuntime($"{meminfoPath} is missing, so this host's memory is unknown; fix: mount procfs at {procRoot}");
        long memTotal = ParseMemTotal(meminfo, meminfoPath);
        long memory = memTotal;
        string memorySource = "MemTotal";
        if (limits.MemoryBytes is { } limit && limit < memTotal)
        {
            memory = limit;
            memorySource = "cgroup memory limit";
        }

        return new HostCapacity(cpu, cpuSource, memory, memorySource, gpus, cpuReserveMillicores, memoryReserveBytes, notes);
    }

    /// <summary>
    /// Whether one job asking <paramref name="request"/> can run here at all; when not, <paramref name="reason"/>
    /// says which resource and by how much, in words for the rejection sent to the scheduler.
    /// </summary>
    public bool Fits(ResourceRequest request, out string reason)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.CpuMillicores <= 0 || request.MemoryBytes <= 0)
            ThrowHelper.ThrowArgument(nameof(request), "a resource request asks for a positive amount of CPU and memory");

        if (request.CpuMillicores > JobCpuMillicores)
        {
            reason = string.Create(CultureInfo.InvariantCulture, $"the model asks for {request.CpuMillicores} millicores of CPU, but this host gives a job at most {JobCpuMillicores} ({CpuSource}, less {ReservedCpuMillicores} kept for the agent)");
            return false;
        }

        if (request.MemoryBytes > JobMemoryBytes)
        {
            reason = $"the model asks for {Mib(request.MemoryBytes)} of memory, but this host gives a job at most {Mib(JobMemoryBytes)} ({MemorySource} {Mib(MemoryBytes)}, less {Mib(ReservedMemoryBytes)} kept for the agent)";
            return false;
        }

        if (request.Gpu)
        {
            if (!Gpus.Available)
            {
                reason = $"the model asks for a GPU, but this host has none usable: {Gpus.Reason}";
                return false;
            }

            if (Gpus.Gpus.Count == 0)
            {
                reason = "the model asks for a GPU, but NVML lists no usable GPU on this host";
                return false;
            }
        }

        reason = string.Empty;
        return true;
    }

    /// <summary>Counts "0-3,8,10-11" from the Cpus_allowed_list line of /proc/PID/status; null when absent or malformed.</summary>
    internal static int? TryCountAllowedCpus(ReadOnlySpan<byte> status)
    {
        ReadOnlySpan<byte> value = FindField(status, "Cpus_allowed_list:"u8);
        if (value.IsEmpty)
            return null;

        int count = 0;
        foreach (Range range in value.Split((byte)','))
        {
            ReadOnlySpan<byte> item = value[range];
            int dash = item.IndexOf((byte)'-');
            ReadOnlySpan<byte> first = dash < 0 ? item : item[..dash];
            ReadOnlySpan<byte> last = dash < 0 ? item : item[(dash + 1)..];
            if (!CgroupText.TryParseCount(first, out long low) || !CgroupText.TryParseCount(last, out long high)
                || low > high || high >= MaxCpus)
            {
                return null;
            }

            count += (int)(high - low + 1);
            if (count > MaxCpus)
                return null;
        }

        return count == 0 ? null : count;
    }

    /// <summary>MemTotal from /proc/meminfo ("MemTotal:       16314752 kB"), in bytes.</summary>
    internal static long ParseMemTotal(ReadOnlySpan<byte> meminfo, string path)
    {
        ReadOnlySpan<byte> value = FindField(meminfo, "MemTotal:"u8);
        long kib = 0;
        if (!value.EndsWith(" kB"u8) || !CgroupText.TryParseCount(value[..^3].TrimEnd((byte)' '), out kib)
            || kib == 0 || kib > long.MaxValue / 1024)
        {
            ThrowHelper.ThrowRuntime($"{path} has no line \"MemTotal: N kB\" with a plausible N, so it is not the kernel's meminfo; fix: mount procfs there");
        }

        return kib * 1024;
    }

    /// <summary>The value of the first "Key:   value" line, spaces and tabs trimmed; empty when there is none.</summary>
    private static ReadOnlySpan<byte> FindField(ReadOnlySpan<byte> content, ReadOnlySpan<byte> key)
    {
        while (!content.IsEmpty)
        {
            int end = content.IndexOf((byte)'\n');
            ReadOnlySpan<byte> line = end < 0 ? content : content[..end];
            content = end < 0 ? default : content[(end + 1)..];
            if (line.StartsWith(key))
                return line[key.Length..].Trim(" \t"u8);
        }

        return default;
    }

    private static string Mib(long bytes) =>
        string.Create(CultureInfo.InvariantCulture, $"{bytes / (1 << 20)} MiB");
}
