namespace InfraMind.Node.Hardware;

/// <summary>
/// What a cgroup uses right now, for load telemetry (the node's own cgroup, sampled every second): CPU time so far
/// and the memory working set. Kept apart from <see cref="ContainerCgroup.ReadUsage"/>, which reads the receipt's
/// peak and OOM figures and must fail loudly; these fail the same way and the sampler turns that into "unknown".
/// </summary>
internal static class CgroupLiveUsage
{
    /// <summary>CPU time used so far in microseconds (v1 cpuacct.usage, v2 cpu.stat usage_usec); null when the file is absent.</summary>
    /// <exception cref="Errors.InfraException">(Runtime) the file is unreadable or not in the kernel's format.</exception>
    public static long? ReadCpuMicros(ContainerCgroup cgroup)
    {
        ArgumentNullException.ThrowIfNull(cgroup);
        using var files = new CgroupFileReader();
        CgroupController cpu = cgroup.CpuAccounting;
        if (cpu.Version == CgroupVersion.V1)
        {
            string path = Path.Join(cpu.Directory, "cpuacct.usage");
            return files.TryRead(path, out ReadOnlySpan<byte> content)
                ? CgroupText.ParseCount(content, path, "a count of nanoseconds") / 1000
                : null;
        }
        else
        {
            string path = Path.Join(cpu.Directory, "cpu.stat");
            return files.TryRead(path, out ReadOnlySpan<byte> content)
                ? CgroupText.FindKeyed(content, "usage_usec"u8, path)
                : null;
        }
    }

    /// <summary>
    /// The memory working set in bytes: usage (v1 memory.usage_in_bytes, v2 memory.current) less inactive file pages
    /// (memory.stat total_inactive_file / inactive_file), which the kernel drops before it would OOM. This is what
    /// docker stats and cAdvisor show, and what the limit is really compared against. Null when usage is absent
    /// (the v2 root keeps no memory.current).
    /// </summary>
    /// <exception cref="Errors.InfraException">(Runtime) a file is unreadable or not in the kernel's format.</exception>
    public static long? ReadMemoryWorkingSet(ContainerCgroup cgroup)
    {
        ArgumentNullException.ThrowIfNull(cgroup);
        using var files = new CgroupFileReader();
        CgroupController memory = cgroup.Memory;
        bool v1 = memory.Version == CgroupVersion.V1;
        string path = Path.Join(memory.Directory, v1 ? "memory.usage_in_bytes" : "memory.current");
        if (!files.TryRead(path, out ReadOnlySpan<byte> content))
            return null;
        long usage = CgroupText.ParseCount(content, path, "a byte count");

        path = Path.Join(memory.Directory, "memory.stat");
        if (files.TryRead(path, out content)
            && CgroupText.FindKeyed(content, v1 ? "total_inactive_file"u8 : "inactive_file"u8, path) is { } inactive)
        {
            usage = Math.Max(0, usage - inactive);
        }

        return usage;
    }
}
