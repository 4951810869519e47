using System.Text;
using InfraMind.Node.Containers.Sandbox;
using InfraMind.Node.Doctor;
using InfraMind.Node.Errors;
using InfraMind.Node.Hardware;
using InfraMind.Node.Hardware.Nvml;
using InfraMind.Node.Tests.Support;

namespace InfraMind.Node.Tests.Hardware;

/// <summary>HostCapacity against fixture /proc and cgroup trees (v1, v2, unconfined, broken), Fits, and the doctor's GPU line.</summary>
public sealed class HostCapacityTests : IDisposable
{
    private const int Pid = 777;
    private const string MemInfo16G = "MemTotal:       16777216 kB\nMemFree:         1234567 kB\nMemAvailable:    9999999 kB\n";
    private const string DockerV1 = "/docker/abc123";

    private static readonly GpuInventory NoNvml = new(GpuInventoryStatus.LibraryAbsent, "NVML not found (libnvidia-ml.so.1 is not on the loader path): no NVIDIA driver on this host", null, null, [], []);

    private static readonly GpuInventory TwoGpus = new(
        GpuInventoryStatus.Ready,
        null,
        "550.54.15",
        "12.550.54.15",
        [
            new GpuInfo(0, "NVIDIA H100 80GB HBM3", "GPU-aaaa", 80L << 30, 79L << 30, new ComputeCapability(9, 0)),
            new GpuInfo(1, "NVIDIA H100 80GB HBM3", "GPU-bbbb", 80L << 30, 79L << 30, null),
        ],
        []);

    private readonly TempFolder _dir = new();

    public void Dispose() => _dir.Dispose();

    private string Proc => _dir["proc"];

    private string Cgroup => _dir["cgroup"];

    private void Status(string cpus) => _dir.Write($"proc/{Pid}/status", $"Name:\tinfra\nState:\tS (sleeping)\nCpus_allowed:\tf\nCpus_allowed_list:\t{cpus}\nMems_allowed_list:\t0\n");

    private HostCapacity Read(GpuInventory? gpus = null) =>
        HostCapacity.Read(gpus ?? NoNvml, Proc, Cgroup, Pid);

    private void DockerV1Tree(string quota, string memory)
    {
        _dir.Write($"proc/{Pid}/cgroup", $"12:pids:{DockerV1}\n11:memory:{DockerV1}\n4:cpu,cpuacct:{DockerV1}\n0::/\n");
        _dir.Write($"cgroup/memory{DockerV1}/memory.limit_in_bytes", memory + "\n");
        _dir.Write($"cgroup/cpu,cpuacct{DockerV1}/cpu.cfs_quota_us", quota + "\n");
        _dir.Write($"cgroup/cpu,cpuacct{DockerV1}/cpu.cfs_period_us", "100000\n");
        _dir.Write($"cgroup/pids{DockerV1}/pids.max", "max\n");
    }

    private void V2Tree(string cpuMax, string memoryMax)
    {
        const string path = "/system.slice/inframind.service";
        _dir.Write($"proc/{Pid}/cgroup", $"0::{path}\n");
        _dir.Write($"cgroup{path}/cgroup.controllers", "cpuset cpu io memory pids\n");
        _dir.Write($"cgroup{path}/cpu.max", cpuMax + "\n");
        _dir.Write($"cgroup{path}/memory.max", memoryMax + "\n");
        _dir.Write($"cgroup{path}/pids.max", "max\n");
    }

    [Fact]
    public void V1_container_limits_win_over_the_host()
    {
        DockerV1Tree("150000", "536870912");
        Status("0-3");
        _dir.Write("proc/meminfo", MemInfo16G);
        HostCapacity capacity = Read();
        Assert.Equal(1500, capacity.CpuMillicores);
        Assert.Equal("cgroup CPU quota 150000/100000 µs", capacity.CpuSource);
        Assert.Equal(512L << 20, capacity.MemoryBytes);
        Assert.Equal("cgroup memory limit", capacity.MemorySource);
        Assert.Equal(448L << 20, capacity.JobMemoryBytes);
        Assert.Equal(1500, capacity.JobCpuMillicores);
        Assert.Empty(capacity.Notes);
    }

    [Fact]
    public void V1_unlimited_reads_affinity_and_memtotal()
    {
        DockerV1Tree("-1", "9223372036854771712");
        Status("0-1,4,6-7");
        _dir.Write("proc/meminfo", MemInfo16G);
        HostCapacity capacity = Read();
        Assert.Equal(5000, capacity.CpuMillicores);
        Assert.Equal("5 CPUs allowed (affinity)", capacity.CpuSource);
        Assert.Equal(16L << 30, capacity.MemoryBytes);
        Assert.Equal("MemTotal", capacity.MemorySource);
    }

    [Fact]
    public void V2_quota_over_the_allowed_cpus_is_capped_by_affinity_and_a_limit_over_memtotal_by_memtotal()
    {
        V2Tree("400000 100000", "34359738368");
        Status("0-1");
        _dir.Write("proc/meminfo", MemInfo16G);
        HostCapacity capacity = Read();
        Assert.Equal(2000, capacity.CpuMillicores);
        Assert.Equal(16L << 30, capacity.MemoryBytes);
    }

    [Fact]
    public void V2_fractional_quota_and_memory_limit()
    {
        V2Tree("50000 100000", "1073741824");
        Status("0-7");
        _dir.Write("proc/meminfo", MemInfo16G);
        HostCapacity capacity = HostCapacity.Read(NoNvml, Proc, Cgroup, Pid, memoryReserveBytes: 128L << 20, cpuReserveMillicores: 100);
        Assert.Equal(500, capacity.CpuMillicores);
        Assert.Equal(400, capacity.JobCpuMillicores);
        Assert.Equal(1L << 30, capacity.MemoryBytes);
        Assert.Equal((1L << 30) - (128L << 20), capacity.JobMemoryBytes);
    }

    [Fact]
    public void V2_root_cgroup_has_no_limits()
    {
        _dir.Write($"proc/{Pid}/cgroup", "0::/\n");
        _dir.Write("cgroup/cgroup.controllers", "cpu memory pids\n");
        Status("0");
        _dir.Write("proc/meminfo", MemInfo16G);
        HostCapacity capacity = Read();
        Assert.Equal(1000, capacity.CpuMillicores);
        Assert.Equal(16L << 30, capacity.MemoryBytes);
        Assert.Empty(capacity.Notes);
    }

    [Fact]
    public void Unreadable_own_cgroup_and_status_are_noted_not_fatal()
    {
        // /proc says /docker/abc123 but the folders are not there: a container without a cgroup namespace.
        _dir.Write($"proc/{Pid}/cgroup", $"11:memory:{DockerV1}\n4:cpu,cpuacct:{DockerV1}\n12:pids:{DockerV1}\n");
        Directory.CreateDirectory(Cgroup);
        _dir.Write("proc/meminfo", MemInfo16G);
        HostCapacity capacity = Read();
        Assert.Equal(Environment.ProcessorCount * 1000L, capacity.CpuMillicores);
        Assert.Equal(16L << 30, capacity.MemoryBytes);
        Assert.Equal(2, capacity.Notes.Count);
        Assert.StartsWith("own cgroup not read", capacity.Notes[0], StringComparison.Ordinal);
        Assert.Contains("status is missing", capacity.Notes[1], StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("")]
    [InlineData("MemFree: 100 kB\n")]
    [InlineData("MemTotal: kB\n")]
    [InlineData("MemTotal: 16777216\n")]
    [InlineData("MemTotal: 16777216 MB\n")]
    [InlineData("MemTotal: -5 kB\n")]
    [InlineData("MemTotal: 0 kB\n")]
    [InlineData("MemTotal: 99999999999999999999 kB\n")]
    [InlineData("MemTotal: 9007199254740992 kB\n")]
    [InlineData("MemTotal: 12x4 kB\n")]
    public void Malformed_meminfo_is_an_error(string meminfo)
    {
        _dir.Write($"proc/{Pid}/cgroup", "0::/\n");
        Directory.CreateDirectory(Cgroup);
        Status("0-1");
        _dir.Write("proc/meminfo", meminfo);
        InfraException e = Assert.Throws<InfraException>(() => Read());
        Assert.Equal(FailureKind.Runtime, e.Kind);
        Assert.Contains("MemTotal", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Missing_or_oversized_meminfo_is_an_error()
    {
        _dir.Write($"proc/{Pid}/cgroup", "0::/\n");
        Directory.CreateDirectory(Cgroup);
        Status("0-1");
        Assert.Contains("meminfo is missing", Assert.Throws<InfraException>(() => Read()).Message, StringComparison.Ordinal);

        _dir.Write("proc/meminfo", "MemTotal: 1 kB\n" + new string('x', 70_000));
        Assert.Contains("over 64 KiB", Assert.Throws<InfraException>(() => Read()).Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("0-3,8,10-11", 7)]
    [InlineData("0", 1)]
    [InlineData("5", 1)]
    [InlineData("0-8191", 8192)]
    [InlineData("3-1", null)]
    [InlineData("0-8192", null)]
    [InlineData("0-", null)]
    [InlineData("-3", null)]
    [InlineData("a", null)]
    [InlineData("0,,1", null)]
    [InlineData("0-1-2", null)]
    [InlineData("+1", null)]
    [InlineData("", null)]
    public void Allowed_cpu_lists(string list, int? expected)
    {
        Assert.Equal(expected, HostCapacity.TryCountAllowedCpus(Encoding.ASCII.GetBytes($"Name:\tinfra\nCpus_allowed_list:\t{list}\nMems_allowed_list:\t0\n")));
    }

    [Fact]
    public void Every_prefix_of_status_parses_or_declines_without_throwing()
    {
        byte[] status = Encoding.ASCII.GetBytes("Name:\tinfra\nCpus_allowed_list:\t0-3,8\nMems_allowed_list:\t0\n");
        for (int i = 0; i <= status.Length; i++)
        {
            int? count = HostCapacity.TryCountAllowedCpus(status.AsSpan(0, i));
            Assert.True(count is null or 1 or 2 or 3 or 4 or 5, $"prefix {i} gave {count}");
        }

        Assert.Null(HostCapacity.TryCountAllowedCpus("Name:\tinfra\n"u8));
        Assert.Equal(5, HostCapacity.TryCountAllowedCpus(status));
    }

    [Fact]
    public void Fits_checks_cpu_memory_and_gpu_at_the_boundary()
    {
        V2Tree("200000 100000", "1073741824");
        Status("0-3");
        _dir.Write("proc/meminfo", MemInfo16G);
        HostCapacity capacity = Read();
        long memory = (1L << 30) - HostCapacity.DefaultMemoryReserveBytes;

        Assert.True(capacity.Fits(new ResourceRequest(memory, 2000), out string reason));
        Assert.Equal(string.Empty, reason);

        Assert.False(capacity.Fits(new ResourceRequest(memory, 2001), out reason));
        Assert.Equal("the model asks for 2001 millicores of CPU, but this host gives a job at most 2000 (cgroup CPU quota 200000/100000 µs, less 0 kept for the agent)", reason);

        Assert.False(capacity.Fits(new ResourceRequest(memory + 1, 1000), out reason));
        Assert.Equal("the model asks for 960 MiB of memory, but this host gives a job at most 960 MiB (cgroup memory limit 1024 MiB, less 64 MiB kept for the agent)", reason);

        Assert.False(capacity.Fits(new ResourceRequest(512L << 20, 1000, Gpu: true), out reason));
        Assert.StartsWith("the model asks for a GPU, but this host has none usable: NVML not found", reason, StringComparison.Ordinal);

        Assert.Throws<ArgumentException>(() => capacity.Fits(new ResourceRequest(0, 1000), out _));
        Assert.Throws<ArgumentException>(() => capacity.Fits(new ResourceRequest(1, -1), out _));
    }

    [Fact]
    public void Fits_a_gpu_job_only_where_nvml_lists_a_gpu()
    {
        V2Tree("max 100000", "max");
        Status("0-3");
        _dir.Write("proc/meminfo", MemInfo16G);
        Assert.True(Read(TwoGpus).Fits(new ResourceRequest(1L << 30, 1000, Gpu: true), out _));

        GpuInventory empty = TwoGpus with { Gpus = [] };
        Assert.False(Read(empty).Fits(new ResourceRequest(1L << 30, 1000, Gpu: true), out string reason));
        Assert.Equal("the model asks for a GPU, but NVML lists no usable GPU on this host", reason);
    }

    [Fact]
    public void This_host_reads_without_error()
    {
        HostCapacity capacity = HostCapacity.Read(NoNvml);
        Assert.InRange(capacity.CpuMillicores, 1, Environment.ProcessorCount * 1000L);
        Assert.InRange(capacity.MemoryBytes, 64L << 20, long.MaxValue);
        Assert.True(capacity.JobMemoryBytes < capacity.MemoryBytes);
    }

    [Fact]
    public void Doctor_passes_a_host_without_nvml()
    {
        CheckResult result = HostChecks.Gpu(NoNvml);
        Assert.Equal(CheckOutcome.Ok, result.Outcome);
        Assert.Equal("no NVIDIA GPU (NVML not found): GPU jobs will be rejected", result.Detail);
    }

    [Fact]
    public void Doctor_lists_driver_and_gpus()
    {
        CheckResult result = HostChecks.Gpu(TwoGpus);
        Assert.Equal(CheckOutcome.Ok, result.Outcome);
        Assert.Equal("NVIDIA driver 550.54.15, 2 GPU(s): 0 NVIDIA H100 80GB HBM3 (81920 MiB, compute 9.0), 1 NVIDIA H100 80GB HBM3 (81920 MiB)", result.Detail);
    }

    [Fact]
    public void Doctor_warns_on_broken_nvml_and_on_left_out_gpus()
    {
        var broken = new GpuInventory(GpuInventoryStatus.InitFailed, "nvmlInit_v2 failed: Insufficient Permissions (NVML error 4); fix: let the node's user open /dev/nvidia*", null, null, [], []);
        CheckResult result = HostChecks.Gpu(broken);
        Assert.Equal(CheckOutcome.Warning, result.Outcome);
        Assert.Equal("nvmlInit_v2 failed: Insufficient Permissions (NVML error 4): GPU jobs will be rejected", result.Detail);
        Assert.Equal("let the node's user open /dev/nvidia*", result.Fix);

        CheckResult partial = HostChecks.Gpu(TwoGpus with { Problems = ["GPU 2 left out: nvmlDeviceGetMemoryInfo gave GPU is lost (NVML error 15)"] });
        Assert.Equal(CheckOutcome.Warning, partial.Outcome);
        Assert.EndsWith("; GPU 2 left out: nvmlDeviceGetMemoryInfo gave GPU is lost (NVML error 15)", partial.Detail, StringComparison.Ordinal);

        CheckResult none = HostChecks.Gpu(TwoGpus with { Gpus = [] });
        Assert.Equal(CheckOutcome.Ok, none.Outcome);
        Assert.Equal("NVIDIA driver 550.54.15, but NVML lists no usable GPU: GPU jobs will be rejected", none.Detail);
    }
}
