using System.Buffers;
using Microsoft.Win32.SafeHandles;

namespace InfraMind.Node.Hardware;

/// <summary>
/// The usage files of one long-lived cgroup (a warm rest model's container), opened once and re-read in place:
/// a warm job reads CPU time before its request and CPU, peak memory and OOM kills after it, and four opens and
/// closes of deep cgroupfs paths per job cost more than the reads themselves. The figures and the errors are those
/// of <see cref="ContainerCgroup.ReadUsage"/> and <see cref="CgroupLiveUsage.ReadCpuMicros"/>.
/// </summary>
/// <remarks>
/// Kernel files are produced afresh by every read from offset 0, so one positioned read gives the current value.
/// The handles are reference-counted: a read racing <see cref="Dispose"/> gets an <see cref="ObjectDisposedException"/>,
/// never another file that reused the descriptor number. Once the cgroup is removed, reads fail with an
/// <see cref="IOException"/> (ENODEV), as the path-based readers fail on the missing file.
/// </remarks>
internal sealed class CgroupUsageFiles : IDisposable
{
    private readonly KernelFile _cpu;
    private readonly bool _cpuV1;
    private readonly KernelFile? _peak;
    private readonly KernelFile? _oomKills;

    private CgroupUsageFiles(KernelFile cpu, bool cpuV1, KernelFile? peak, KernelFile? oomKills)
    {
        _cpu = cpu;
        _cpuV1 = cpuV1;
        _peak = peak;
        _oomKills = oomKills;
    }

    /// <summary>
    /// Opens the usage files of <paramref name="cgroup"/>; null when a file that <see cref="ContainerCgroup.ReadUsage"/>
    /// requires is missing, so the caller reads by path and reports what the path-based reader reports.
    /// </summary>
    public static CgroupUsageFiles? TryOpen(ContainerCgroup cgroup)
    {
        ArgumentNullException.ThrowIfNull(cgroup);
        bool cpuV1 = cgroup.CpuAccounting.Version == CgroupVersion.V1;
        bool memoryV1 = cgroup.Memory.Version == CgroupVersion.V1;
        KernelFile? cpu = KernelFile.TryOpen(cgroup.CpuAccounting.Directory, cpuV1 ? "cpuacct.usage" : "cpu.stat");
        // v1 keeps memory.max_usage_in_bytes in every memory cgroup but the tree's root; v2 has memory.peak since 5.19.
        KernelFile? peak = KernelFile.TryOpen(cgroup.Memory.Directory, memoryV1 ? "memory.max_usage_in_bytes" : "memory.peak");
        KernelFile? oomKills = KernelFile.TryOpen(cgroup.Memory.Directory, memoryV1 ? "memory.oom_control" : "memory.events");
        if (cpu is null || (memoryV1 && peak is null && !cgroup.Memory.IsHierarchyRoot))
        {
            cpu?.Dispose();
            peak?.Dispose();
            oomKills?.Dispose();
            return null;
        }

        return new CgroupUsageFiles(cpu, cpuV1, peak, oomKills);
    }

    /// <summary>CPU time used so far, in microseconds.</summary>
    /// <exception cref="Errors.InfraException">(Runtime) the file is not in the kernel's format.</exception>
    public long ReadCpuMicros()
    {
        byte[] buffer = ArrayPool<byte>.Shared.Rent(CgroupText.MaxFileBytes + 1);
        try
        {
            return CpuMicros(buffer);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>CPU time, peak memory and OOM kills so far: what <see cref="ContainerCgroup.ReadUsage"/> reads.</summary>
    /// <exception cref="Errors.InfraException">(Runtime) a file is not in the kernel's format.</exception>
    public CgroupUsage ReadUsage()
    {
        byte[] buffer = ArrayPool<byte>.Shared.Rent(CgroupText.MaxFileBytes + 1);
        try
        {
            long cpuMicros = CpuMicros(buffer);
            long? peak = _peak is { } peakFile ? CgroupText.ParseCount(peakFile.Read(buffer), peakFile.Path, "a byte count") : null;
            long? oomKills = _oomKills is { } oomFile ? ContainerCgroup.ParseOomKills(oomFile.Read(buffer), oomFile.Path) : null;
            return ContainerCgroup.Usage(cpuMicros, peak, oomKills);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    public void Dispose()
    {
        _cpu.Dispose();
        _peak?.Dispose();
        _oomKills?.Dispose();
    }

    private long CpuMicros(byte[] buffer) => ContainerCgroup.ParseCpuMicros(_cpu.Read(buffer), _cpu.Path, _cpuV1);

    /// <summary>One open kernel file and the path it was opened from (for errors).</summary>
    private sealed class KernelFile(string path, SafeFileHandle handle) : IDisposable
    {
        public string Path { get; } = path;

        public static KernelFile? TryOpen(string directory, string name)
        {
            string path = System.IO.Path.Join(directory, name);
            try
            {
                return new KernelFile(path, File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return null;
            }
        }

        /// <summary>
        /// The whole file, from one read at offset 0: a kernel file that fits the buffer comes whole from one read
        /// (seq_file stops short only at its end), and one that does not is over the size cap.
        /// </summary>
        public ReadOnlySpan<byte> Read(byte[] buffer)
        {
            Span<byte> window = buffer.AsSpan(0, CgroupText.MaxFileBytes + 1);
            int total = RandomAccess.Read(handle, window, fileOffset: 0);
            if (total > CgroupText.MaxFileBytes)
                ThrowHelper.ThrowRuntime($"{Path} is over {CgroupText.MaxFileBytes / 1024} KiB, so it is not a kernel cgroup file; fix: check what is mounted at that path");
            return window[..total];
        }

        public void Dispose() => handle.Dispose();
    }
}
