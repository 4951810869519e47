using System.Globalization;

namespace InfraMind.Node.Hardware;

/// <summary>How the host mounts cgroups, as one process sees it.</summary>
public enum CgroupVersion
{
    /// <summary>Controllers in per-controller v1 trees (/sys/fs/cgroup/memory, /sys/fs/cgroup/cpu,cpuacct, ...).</summary>
    V1 = 1,

    /// <summary>One unified v2 tree at the cgroup root.</summary>
    V2 = 2,

    /// <summary>v1 controller trees plus a v2 tree at {root}/unified that holds the controllers v1 does not (systemd's hybrid mode).</summary>
    Hybrid = 3,
}

/// <summary>
/// Where one controller's files live for a process: the folder, and whether it is a v1 or v2 folder
/// (never <see cref="CgroupVersion.Hybrid"/>). <see cref="IsHierarchyRoot"/> is true for the tree's top cgroup,
/// where the kernel keeps no limit files at all.
/// </summary>
public sealed record CgroupController(string Name, string Directory, CgroupVersion Version, bool IsHierarchyRoot);

/// <summary>
/// The cgroup of one process (a container's init, or the node itself), found from /proc/PID/cgroup, and its
/// limits and usage read from the cgroup filesystem. The sandbox uses it to prove a container's limits are in
/// force before a job runs and to read what the job used for its receipt. Paths come from the kernel's file,
/// so Docker's cgroupfs (/docker/ID) and systemd (/system.slice/docker-ID.scope) drivers and Podman
/// (/machine.slice/libpod-ID.scope, /libpod_parent/libpod-ID) need no special cases.
/// </summary>
/// <remarks>
/// Roots are parameters so tests can feed fixture trees. The process must be in this mount namespace's view:
/// the folders are {cgroupRoot}/{controllers}{path}, which holds on the host; from inside a container without
/// a cgroup namespace the controller mounts start deeper and <see cref="Locate"/> reports the folder missing.
/// </remarks>
public sealed class ContainerCgroup
{
    public const string DefaultProcRoot = "/proc";
    public const string DefaultCgroupRoot = "/sys/fs/cgroup";

    private const string Fix = "fix: check that the process is still running and that the host's cgroup filesystem is mounted at";

    private ContainerCgroup(
        int processId,
        CgroupVersion version,
        string? unifiedDirectory,
        CgroupController memory,
        CgroupController cpu,
        CgroupController cpuAccounting,
        CgroupController pids)
    {
        ProcessId = processId;
        Version = version;
        UnifiedDirectory = unifiedDirectory;
        Memory = memory;
        Cpu = cpu;
        CpuAccounting = cpuAccounting;
        Pids = pids;
    }

    public int ProcessId { get; }

    /// <summary>The host's layout. Under <see cref="CgroupVersion.Hybrid"/> each controller says which tree it is in.</summary>
    public CgroupVersion Version { get; }

    /// <summary>The process's v2 folder, or null when no v2 tree is mounted (a v1-only host).</summary>
    public string? UnifiedDirectory { get; }

    /// <summary>memory.limit_in_bytes, memory.memsw.*, memory.max_usage_in_bytes, memory.oom_control (v1); memory.max, memory.swap.max, memory.peak, memory.events (v2).</summary>
    public CgroupController Memory { get; }

    /// <summary>cpu.cfs_quota_us and cpu.cfs_period_us (v1); cpu.max (v2).</summary>
    public CgroupController Cpu { get; }

    /// <summary>cpuacct.usage (v1); cpu.stat (v2, where CPU accounting is part of every cgroup).</summary>
    public CgroupController CpuAccounting { get; }

    /// <summary>pids.max in both versions.</summary>
    public CgroupController Pids { get; }

    /// <summary>
    /// Finds the cgroup folders of process <paramref name="pid"/>. On a hybrid host a controller with a v1 line is
    /// read from its v1 tree, since that is where the kernel enforces it; the v2 tree is used only for controllers
    /// no v1 line names.
    /// </summary>
    /// <exception cref="Errors.InfraException">
    /// (Runtime) /proc/PID/cgroup is missing or malformed, or a controller's folder does not exist.
    /// </exception>
    public static ContainerCgroup Locate(int pid, string procRoot = DefaultProcRoot, string cgroupRoot = DefaultCgroupRoot)
    {
        if (pid <= 0)
            ThrowHelper.ThrowArgument(nameof(pid), "a process ID is a positive number");
        ArgumentException.ThrowIfNullOrEmpty(procRoot);
        ArgumentException.ThrowIfNullOrEmpty(cgroupRoot);

        string file = Path.Join(procRoot, pid.ToString(CultureInfo.InvariantCulture), "cgroup");
        List<CgroupLine> lines;
        using (var files = new CgroupFileReader())
        {
            if (!files.TryRead(file, out ReadOnlySpan<byte> content))
                ThrowHelper.ThrowRuntime($"no {file}: process {pid} is not running, or {procRoot} is not a procfs mount; fix: give the PID of a running container's init process");
            lines = ProcCgroupFile.Parse(content, file);
        }

        bool hasV1 = lines.Exists(l => !l.IsUnified);
        int unifiedIndex = lines.FindIndex(l => l.IsUnified);
        string? unifiedPath = unifiedIndex < 0 ? null : lines[unifiedIndex].Path;
        string? unified = null;
        if (unifiedPath is not null)
        {
            // Every kernel since 4.5 prints a "0::" line, even on v1-only hosts that mount no v2 tree. With v1
            // lines present the v2 tree, if any, is systemd's hybrid one at {root}/unified.
            string candidate = hasV1 ? Join(cgroupRoot, "unified", unifiedPath) : Join(cgroupRoot, null, unifiedPath);
            if (Directory.Exists(candidate))
                unified = candidate;
            else if (!hasV1)
                ThrowHelper.ThrowRuntime($"the cgroup v2 folder {candidate} of process {pid} (from {file}) does not exist; {Fix} {cgroupRoot}");
        }

        CgroupVersion version = !hasV1 ? CgroupVersion.V2 : unified is null ? CgroupVersion.V1 : CgroupVersion.Hybrid;
        return new ContainerCgroup(
            pid,
            version,
            unified,
            Resolve("memory", lines, unified, unifiedPath, cgroupRoot, file, pid),
            Resolve("cpu", lines, unified, unifiedPath, cgroupRoot, file, pid),
            Resolve("cpuacct", lines, unified, unifiedPath, cgroupRoot, file, pid),
            Resolve("pids", lines, unified, unifiedPath, cgroupRoot, file, pid));
    }

    /// <summary>The node's own cgroup.</summary>
    public static ContainerCgroup LocateOwn(string procRoot = DefaultProcRoot, string cgroupRoot = DefaultCgroupRoot) =>
        Locate(Environment.ProcessId, procRoot, cgroupRoot);

    /// <summary>The limits the node itself runs under, for telemetry.</summary>
    public static CgroupLimits ReadOwn(string procRoot = DefaultProcRoot, string cgroupRoot = DefaultCgroupRoot) =>
        LocateOwn(procRoot, cgroupRoot).ReadLimits();

    /// <summary>
    /// Reads the limits in force now. A limit file the kernel does not create (the tree's root; a v2 cgroup whose
    /// parent has not enabled the controller) reads as unlimited, because nothing limits that resource there.
    /// </summary>
    /// <exception cref="Errors.InfraException">(Runtime) a limit file is missing where the kernel always has one, unreadable, or not in the kernel's format.</exception>
    public CgroupLimits ReadLimits()
    {
        using var files = new CgroupFileReader();
        string path;
        ReadOnlySpan<byte> content;

        long? memory;
        long? memoryAndSwap = null;
        bool swapAccounting = true;
        if (Memory.Version == CgroupVersion.V1)
        {
            memory = ReadControllerFile(files, Memory, "memory.limit_in_bytes", out path, out content)
                ? CgroupText.ParseV1ByteLimit(content, path)
                : null;
            path = Path.Join(Memory.Directory, "memory.memsw.limit_in_bytes");
            if (files.TryRead(path, out content))
                memoryAndSwap = CgroupText.ParseV1ByteLimit(content, path);
            else
                swapAccounting = false;
        }
        else
        {
            memory = ReadControllerFile(files, Memory, "memory.max", out path, out content)
                ? CgroupText.ParseCountOrMax(content, path, "a byte count or \"max\"")
                : null;

            // v2 limits swap alone; the sum is the v1-style memory+swap figure CgroupLimits holds.
            path = Path.Join(Memory.Directory, "memory.swap.max");
            if (files.TryRead(path, out content))
            {
                long? swap = CgroupText.ParseCountOrMax(content, path, "a byte count or \"max\"");
                if (memory is { } m && swap is { } s && s <= CgroupText.V1UnlimitedFloor - m)
                    memoryAndSwap = m + s;
            }
            else
            {
                swapAccounting = false;
            }
        }

        long? quota;
        long period = CgroupLimits.DefaultCpuPeriodMicros;
        if (Cpu.Version == CgroupVersion.V1)
        {
            quota = ReadControllerFile(files, Cpu, "cpu.cfs_quota_us", out path, out content)
                ? CgroupText.ParseV1Quota(content, path)
                : null;
            if (ReadControllerFile(files, Cpu, "cpu.cfs_period_us", out path, out content))
                period = CgroupText.ParsePositive(content, path, "a positive number of microseconds");
        }
        else
        {
            quota = null;
            if (ReadControllerFile(files, Cpu, "cpu.max", out path, out content))
                (quota, period) = CgroupText.ParseCpuMax(content, path);
        }

        long? pids = ReadControllerFile(files, Pids, "pids.max", out path, out content)
            ? CgroupText.ParseCountOrMax(content, path, "a process count or \"max\"")
            : null;

        return new CgroupLimits(memory, memoryAndSwap, quota, period, pids) { SwapAccounting = swapAccounting };
    }

    /// <summary>Reads CPU time, peak memory and OOM kills so far.</summary>
    /// <exception cref="Errors.InfraException">(Runtime) a usage file is missing where the kernel always has one, unreadable, or not in the kernel's format.</exception>
    public CgroupUsage ReadUsage()
    {
        using var files = new CgroupFileReader();
        string path;
        ReadOnlySpan<byte> content;

        bool cpuV1 = CpuAccounting.Version == CgroupVersion.V1;
        path = Require(files, CpuAccounting, cpuV1 ? "cpuacct.usage" : "cpu.stat", out content);
        long cpuMicros = ParseCpuMicros(content, path, cpuV1);

        long? peak;
        long? oomKills;
        if (Memory.Version == CgroupVersion.V1)
        {
            peak = ReadControllerFile(files, Memory, "memory.max_usage_in_bytes", out path, out content)
                ? CgroupText.ParseCount(content, path, "a byte count")
                : null;
            path = Path.Join(Memory.Directory, "memory.oom_control");
        }
        else
        {
            // memory.peak arrived in Linux 5.19; older kernels keep no high-water mark in v2.
            path = Path.Join(Memory.Directory, "memory.peak");
            peak = files.TryRead(path, out content) ? CgroupText.ParseCount(content, path, "a byte count") : null;
            path = Path.Join(Memory.Directory, "memory.events");
        }

        oomKills = files.TryRead(path, out content) ? ParseOomKills(content, path) : null;
        return Usage(cpuMicros, peak, oomKills);
    }

    /// <summary>CPU time in microseconds from v1 cpuacct.usage (nanoseconds) or v2 cpu.stat (its usage_usec line).</summary>
    /// <exception cref="Errors.InfraException">(Runtime) the content is not in the kernel's format.</exception>
    internal static long ParseCpuMicros(ReadOnlySpan<byte> content, string path, bool v1) => v1
        ? CgroupText.ParseCount(content, path, "a count of nanoseconds") / 1000
        : CgroupText.FindKeyed(content, "usage_usec"u8, path) ?? CgroupText.ThrowBadValue<long>(path, "a \"usage_usec\" line", content);

    /// <summary>
    /// OOM kills from v1 memory.oom_control or v2 memory.events; null when the file has no oom_kill line (it arrived
    /// in Linux 4.13), so the kills are not counted.
    /// </summary>
    internal static long? ParseOomKills(ReadOnlySpan<byte> content, string path) => CgroupText.FindKeyed(content, "oom_kill"u8, path);

    /// <summary>The receipt's usage figures; OOM kills null means the kernel does not count them here.</summary>
    internal static CgroupUsage Usage(long cpuMicros, long? peakMemoryBytes, long? oomKills) =>
        new(cpuMicros, peakMemoryBytes, oomKills ?? 0) { OomKillsCounted = oomKills is not null };

    public override string ToString() =>
        $"{Version} cgroup of process {ProcessId}: memory {Memory.Directory}, cpu {Cpu.Directory}, cpuacct {CpuAccounting.Directory}, pids {Pids.Directory}";

    private static CgroupController Resolve(
        string name, List<CgroupLine> lines, string? unified, string? unifiedPath, string cgroupRoot, string file, int pid)
    {
        foreach (CgroupLine line in lines)
        {
            if (line.IsUnified || !line.Has(name))
                continue;

            // Co-mounted controllers live in a folder named after the list ("cpu,cpuacct"); most hosts also link
            // each name to it, some mount them apart. Try the list first, then the single name.
            string together = Join(cgroupRoot, line.Controllers, line.Path);
            if (Directory.Exists(together))
                return new CgroupController(name, together, CgroupVersion.V1, line.Path == "/");
            string alone = Join(cgroupRoot, name, line.Path);
            if (line.Controllers != name && Directory.Exists(alone))
                return new CgroupController(name, alone, CgroupVersion.V1, line.Path == "/");

            string tried = line.Controllers == name ? together : $"{together} or {alone}";
            ThrowHelper.ThrowRuntime($"the {name} cgroup folder of process {pid} ({tried}, from {file}) does not exist; {Fix} {cgroupRoot}");
        }

        if (unified is not null)
            return new CgroupController(name, unified, CgroupVersion.V2, unifiedPath == "/");

        ThrowHelper.ThrowRuntime($"process {pid} has no {name} cgroup: {file} names no v1 {name} hierarchy and no cgroup v2 tree is mounted under {cgroupRoot}; fix: enable the {name} controller on this host");
        return null;
    }

    private static string Join(string root, string? controllers, string cgroupPath)
    {
        // Paths from /proc/PID/cgroup are absolute ("/docker/ID"); the root cgroup is "/".
        string relative = cgroupPath.TrimStart('/');
        return controllers is null ? Path.Join(root, relative) : Path.Join(root, controllers, relative);
    }

    /// <summary>
    /// Reads a controller file, returning false when it is absent because no limit can exist there: in the tree's
    /// root, or in a v2 cgroup whose cgroup.controllers does not list the controller. Absent anywhere else is an error.
    /// </summary>
    private static bool ReadControllerFile(CgroupFileReader files, CgroupController controller, string name, out string path, out ReadOnlySpan<byte> content)
    {
        path = Path.Join(controller.Directory, name);
        if (files.TryRead(path, out content))
            return true;
        if (controller.IsHierarchyRoot)
            return false;

        if (controller.Version == CgroupVersion.V2)
        {
            string list = Path.Join(controller.Directory, "cgroup.controllers");
            if (!files.TryRead(list, out ReadOnlySpan<byte> enabled))
                ThrowHelper.ThrowRuntime($"{list} is missing, so {controller.Directory} is not a cgroup v2 folder; {Fix} its parent");
            // v2 has no cpuacct: CPU accounting belongs to every cgroup, the "cpu" controller adds the limits.
            if (!CgroupText.ListsWord(enabled, controller.Name == "cpuacct" ? "cpu" : controller.Name))
                return false;
        }

        ThrowHelper.ThrowRuntime($"{path} is missing; the kernel keeps {name} in every {controller.Name} cgroup; {Fix} {controller.Directory}");
        return false;
    }

    private static string Require(CgroupFileReader files, CgroupController controller, string name, out ReadOnlySpan<byte> content)
    {
        string path = Path.Join(controller.Directory, name);
        if (!files.TryRead(path, out content))
            ThrowHelper.ThrowRuntime($"{path} is missing; the kernel keeps {name} in every {controller.Name} cgroup; {Fix} {controller.Directory}");
        return path;
    }
}
