using InfraMind.Node.Errors;
using InfraMind.Node.Hardware;

namespace InfraMind.Node.Telemetry;

/// <summary>What a utilisation figure is relative to.</summary>
public enum LoadSource
{
    /// <summary>Not known: no previous sample yet (CPU), or a file was missing or not in the kernel's format.</summary>
    Unknown,

    /// <summary>The agent's own cgroup limit (the node is confined).</summary>
    Cgroup,

    /// <summary>The whole host (no limit on the agent).</summary>
    Host,
}

/// <summary>CPU and memory utilisation in 0..1 at one moment; null when unknown (see the sources).</summary>
public sealed record HostLoadSample(
    double? CpuUtilization, double? MemoryUtilization, LoadSource CpuSource, LoadSource MemorySource, DateTimeOffset SampledAt)
{
    public static HostLoadSample Unknown { get; } = new(null, null, LoadSource.Unknown, LoadSource.Unknown, DateTimeOffset.MinValue);
}

/// <summary>
/// CPU and memory utilisation of what the node may use: its own cgroup's limits when it is confined (a CPU quota, a
/// memory limit; v1 and v2), the host's otherwise. CPU is a rate, so it comes from the change between two
/// <see cref="Sample"/> calls; the first call reports it unknown. Never throws on what it reads: a missing, unreadable
/// or garbled file makes that figure unknown. Roots are parameters so tests use fixture trees. Thread-safe.
/// </summary>
public sealed class HostLoad
{
    private const int StatBufferBytes = 64 * 1024; // the cpu lines come first; the rest of /proc/stat is not needed

    private readonly string _procRoot;
    private readonly string _cgroupRoot;
    private readonly int _processId;
    private readonly TimeProvider _time;
    private readonly string _statPath;
    private readonly string _meminfoPath;
    private readonly byte[] _buffer = new byte[StatBufferBytes];
    private readonly Lock _lock = new();

    private long _prevHostBusy = -1;
    private long _prevHostTotal = -1;
    private long _prevCgroupCpuMicros = -1;
    private long _prevTimestamp;

    /// <param name="procRoot">The procfs mount ("/proc").</param>
    /// <param name="cgroupRoot">The cgroup mount ("/sys/fs/cgroup").</param>
    /// <param name="processId">Whose cgroup to read; the agent itself by default.</param>
    /// <param name="time">The clock CPU rates are measured with; tests pass a fake.</param>
    public HostLoad(
        string procRoot = ContainerCgroup.DefaultProcRoot,
        string cgroupRoot = ContainerCgroup.DefaultCgroupRoot,
        int? processId = null,
        TimeProvider? time = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(procRoot);
        ArgumentException.ThrowIfNullOrEmpty(cgroupRoot);
        _procRoot = procRoot;
        _cgroupRoot = cgroupRoot;
        _processId = processId ?? Environment.ProcessId;
        _time = time ?? TimeProvider.System;
        _statPath = Path.Join(procRoot, "stat");
        _meminfoPath = Path.Join(procRoot, "meminfo");
    }

    public HostLoadSample Sample()
    {
        lock (_lock)
        {
            long now = _time.GetTimestamp();
            bool hostCpuKnown = ReadHostCpu(out long busy, out long total, out int cpus);
            bool memKnown = ReadMeminfo(out long memTotal, out long? memAvailable);
            CgroupState cgroup = ReadCgroup(out ContainerCgroup? located, out CgroupLimits? limits);

            // CPU: the cgroup's usage against its quota, or the host's busy share.
            double? cpu = null;
            LoadSource cpuSource = LoadSource.Unknown;
            long? cgroupCpu = null;
            if (cgroup == CgroupState.Located && limits!.CpuQuotaMicros is { } quota)
            {
                cgroupCpu = TryCgroup(() => CgroupLiveUsage.ReadCpuMicros(located!));
                double capacity = quota / (double)limits.CpuPeriodMicros;
                if (hostCpuKnown)
                    capacity = Math.Min(capacity, cpus); // a quota above the host's CPUs cannot be used
                if (cgroupCpu is { } used && _prevCgroupCpuMicros >= 0 && used >= _prevCgroupCpuMicros)
                {
                    double wallMicros = _time.GetElapsedTime(_prevTimestamp, now).Ticks / (double)TimeSpan.TicksPerMicrosecond;
                    if (wallMicros > 0 && capacity > 0)
                    {
                        cpu = Clamp((used - _prevCgroupCpuMicros) / (wallMicros * capacity));
                        cpuSource = LoadSource.Cgroup;
                    }
                }
            }
            else if (cgroup == CgroupState.Unconfined || (cgroup == CgroupState.Located && limits!.CpuQuotaMicros is null))
            {
                if (hostCpuKnown && _prevHostTotal >= 0 && total > _prevHostTotal && busy >= _prevHostBusy)
                {
                    cpu = Clamp((busy - _prevHostBusy) / (double)(total - _prevHostTotal));
                    cpuSource = LoadSource.Host;
                }
            }

            _prevCgroupCpuMicros = cgroupCpu ?? -1;
            _prevHostBusy = hostCpuKnown ? busy : -1;
            _prevHostTotal = hostCpuKnown ? total : -1;
            _prevTimestamp = now;

            // Memory: the cgroup's working set against its limit, or the host's used share.
            double? memory = null;
            LoadSource memorySource = LoadSource.Unknown;
            if (cgroup == CgroupState.Located && limits!.MemoryBytes is { } limit)
            {
                if (memKnown)
                    limit = Math.Min(limit, memTotal); // a limit above the host's memory is the host's memory
                if (limit > 0 && TryCgroup(() => CgroupLiveUsage.ReadMemoryWorkingSet(located!)) is { } workingSet)
                {
                    memory = Clamp(workingSet / (double)limit);
                    memorySource = LoadSource.Cgroup;
                }
            }
            else if (cgroup == CgroupState.Unconfined || cgroup == CgroupState.Located)
            {
                if (memKnown && memAvailable is { } available && memTotal > 0)
                {
                    memory = Clamp(1 - (Math.Min(available, memTotal) / (double)memTotal));
                    memorySource = LoadSource.Host;
                }
            }

            return new HostLoadSample(cpu, memory, cpuSource, memorySource, _time.GetUtcNow());
        }
    }

    private enum CgroupState
    {
        /// <summary>Found, limits read.</summary>
        Located,

        /// <summary>The process names no cgroup (no /proc/PID/cgroup): nothing limits it but the host.</summary>
        Unconfined,

        /// <summary>The cgroup files exist but could not be read or parsed: the limits are unknown.</summary>
        Broken,
    }

    private CgroupState ReadCgroup(out ContainerCgroup? cgroup, out CgroupLimits? limits)
    {
        cgroup = null;
        limits = null;
        if (!File.Exists(Path.Join(_procRoot, _processId.ToString(System.Globalization.CultureInfo.InvariantCulture), "cgroup")))
            return CgroupState.Unconfined;
        try
        {
            cgroup = ContainerCgroup.Locate(_processId, _procRoot, _cgroupRoot);
            limits = cgroup.ReadLimits();
            return CgroupState.Located;
        }
        catch (InfraException)
        {
            return CgroupState.Broken;
        }
    }

    private static long? TryCgroup(Func<long?> read)
    {
        try
        {
            return read();
        }
        catch (InfraException)
        {
            return null;
        }
    }

    private bool ReadHostCpu(out long busy, out long total, out int cpus)
    {
        busy = total = 0;
        cpus = 0;
        return ProcText.TryRead(_statPath, _buffer, out int length, out _)
            && ProcText.TryParseProcStat(_buffer.AsSpan(0, length), out busy, out total, out cpus);
    }

    private bool ReadMeminfo(out long total, out long? available)
    {
        total = 0;
        available = null;
        if (!ProcText.TryRead(_meminfoPath, _buffer, out int length, out bool complete) || !complete)
            return false;
        ReadOnlySpan<byte> content = _buffer.AsSpan(0, length);
        if (!ProcText.TryFindKeyed(content, "MemTotal"u8, out total) || total == 0)
            return false;

        // MemAvailable arrived in Linux 3.14; without it "used" cannot be told from cache.
        if (ProcText.TryFindKeyed(content, "MemAvailable"u8, out long value))
            available = value;
        return true;
    }

    private static double Clamp(double value) => double.IsNaN(value) ? 0 : Math.Clamp(value, 0, 1);
}
