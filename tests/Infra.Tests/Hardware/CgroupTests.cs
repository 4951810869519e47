using System.Text;
using InfraMind.Node.Errors;
using InfraMind.Node.Hardware;
using InfraMind.Node.Tests.Support;
using Xunit.Abstractions;

namespace InfraMind.Node.Tests.Hardware;

/// <summary>
/// The cgroup readers against fixture trees shaped like real hosts (Docker cgroupfs and systemd drivers, Podman,
/// v1, v2, hybrid), hostile file contents, and the real cgroup of this test process.
/// </summary>
public sealed class CgroupTests : IDisposable
{
    private const int Pid = 4242;
    private const string Id = "3f1c0e5d9a7b4c2e8f6a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e";
    private const string DockerV1 = "/docker/" + Id;
    private const string SystemdScope = "/system.slice/docker-" + Id + ".scope";

    private const string V2Stat = "usage_usec 7777\nuser_usec 5000\nsystem_usec 2777\nnr_periods 0\nnr_throttled 0\nthrottled_usec 0\n";
    private const string V2Events = "low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\noom_group_kill 0\n";
    private const string V1OomControl = "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n";

    private readonly TempFolder _dir = new();
    private readonly ITestOutputHelper _output;

    public CgroupTests(ITestOutputHelper output)
    {
        _output = output;
    }

    public void Dispose() => _dir.Dispose();

    private string Proc => _dir["proc"];

    private string Root => _dir["cgroup"];

    private string Dir(string relative) => Path.Join(Root, relative);

    private void ProcCgroup(string text) => _dir.Write($"proc/{Pid}/cgroup", text);

    private void Write(string cgroupRelative, string text) => _dir.Write("cgroup/" + cgroupRelative.TrimStart('/'), text);

    private ContainerCgroup Locate() => ContainerCgroup.Locate(Pid, Proc, Root);

    private InfraException LocateFails()
    {
        InfraException e = Assert.Throws<InfraException>(() => ContainerCgroup.Locate(Pid, Proc, Root));
        Assert.Equal(FailureKind.Runtime, e.Kind);
        return e;
    }

    private static InfraException Fails(Action read)
    {
        InfraException e = Assert.Throws<InfraException>(read);
        Assert.Equal(FailureKind.Runtime, e.Kind);
        return e;
    }

    // Docker's cgroupfs driver on a v1 host: cpu and cpuacct co-mounted, a "0::" line but no v2 tree.
    private void DockerCgroupfsV1(string memoryLimit = "536870912", string quota = "150000", string pids = "256")
    {
        ProcCgroup($"12:pids:{DockerV1}\n11:memory:{DockerV1}\n4:cpu,cpuacct:{DockerV1}\n1:name=systemd:{DockerV1}\n0::/system.slice/containerd.service\n");
        Write($"memory{DockerV1}/memory.limit_in_bytes", memoryLimit + "\n");
        Write($"memory{DockerV1}/memory.memsw.limit_in_bytes", "1073741824\n");
        Write($"memory{DockerV1}/memory.max_usage_in_bytes", "123456789\n");
        Write($"memory{DockerV1}/memory.oom_control", V1OomControl);
        Write($"cpu,cpuacct{DockerV1}/cpu.cfs_quota_us", quota + "\n");
        Write($"cpu,cpuacct{DockerV1}/cpu.cfs_period_us", "100000\n");
        Write($"cpu,cpuacct{DockerV1}/cpuacct.usage", "2500000123\n");
        Write($"pids{DockerV1}/pids.max", pids + "\n");
    }

    // A container in a v2 cgroup (Docker's systemd driver; Podman's is the same with another path).
    private void UnifiedV2(string path, string memory = "536870912", string swap = "536870912", string cpu = "50000 100000", string pids = "100")
    {
        ProcCgroup($"0::{path}\n");
        Write($"{path}/cgroup.controllers", "cpuset cpu io memory hugetlb pids rdma misc\n");
        Write($"{path}/memory.max", memory + "\n");
        Write($"{path}/memory.swap.max", swap + "\n");
        Write($"{path}/cpu.max", cpu + "\n");
        Write($"{path}/pids.max", pids + "\n");
        Write($"{path}/cpu.stat", V2Stat);
        Write($"{path}/memory.peak", "99999\n");
        Write($"{path}/memory.events", V2Events);
    }

    [Fact]
    public void V1_docker_cgroupfs_resolves_each_controller_and_reads_limits_and_usage()
    {
        DockerCgroupfsV1();
        ContainerCgroup cgroup = Locate();

        Assert.Equal(CgroupVersion.V1, cgroup.Version);
        Assert.Null(cgroup.UnifiedDirectory);
        Assert.Equal(Dir("memory" + DockerV1), cgroup.Memory.Directory);
        Assert.Equal(Dir("cpu,cpuacct" + DockerV1), cgroup.Cpu.Directory);
        Assert.Equal(Dir("cpu,cpuacct" + DockerV1), cgroup.CpuAccounting.Directory);
        Assert.Equal(Dir("pids" + DockerV1), cgroup.Pids.Directory);
        Assert.All([cgroup.Memory, cgroup.Cpu, cgroup.CpuAccounting, cgroup.Pids], c =>
        {
            Assert.Equal(CgroupVersion.V1, c.Version);
            Assert.False(c.IsHierarchyRoot);
        });

        CgroupLimits limits = cgroup.ReadLimits();
        Assert.Equal(new CgroupLimits(536870912, 1073741824, 150000, 100000, 256), limits);
        Assert.True(limits.SwapAccounting);
        Assert.Equal(1500, limits.CpuMillicores);

        CgroupUsage usage = cgroup.ReadUsage();
        Assert.Equal(new CgroupUsage(2500000, 123456789, 2), usage);
        Assert.True(usage.OomKillsCounted);
    }

    [Fact]
    public void V1_comounted_line_falls_back_to_separate_cpu_and_cpuacct_folders()
    {
        ProcCgroup($"4:cpu,cpuacct:{DockerV1}\n3:memory:{DockerV1}\n2:pids:{DockerV1}\n");
        Write($"cpu{DockerV1}/cpu.cfs_quota_us", "-1\n");
        Write($"cpu{DockerV1}/cpu.cfs_period_us", "100000\n");
        Write($"cpuacct{DockerV1}/cpuacct.usage", "1000\n");
        Write($"memory{DockerV1}/memory.limit_in_bytes", "1048576\n");
        Write($"memory{DockerV1}/memory.max_usage_in_bytes", "4096\n");
        Write($"pids{DockerV1}/pids.max", "max\n");

        ContainerCgroup cgroup = Locate();
        Assert.Equal(Dir("cpu" + DockerV1), cgroup.Cpu.Directory);
        Assert.Equal(Dir("cpuacct" + DockerV1), cgroup.CpuAccounting.Directory);
        Assert.Null(cgroup.ReadLimits().CpuQuotaMicros);
        Assert.Equal(1, cgroup.ReadUsage().CpuMicros);
    }

    [Fact]
    public void V1_systemd_driver_scope_paths_work_unchanged()
    {
        ProcCgroup($"10:pids:{SystemdScope}\n7:memory:{SystemdScope}\n3:cpu,cpuacct:{SystemdScope}\n1:name=systemd:{SystemdScope}\n");
        Write($"memory{SystemdScope}/memory.limit_in_bytes", "2147483648\n");
        Write($"memory{SystemdScope}/memory.memsw.limit_in_bytes", "4294967296\n");
        Write($"memory{SystemdScope}/memory.max_usage_in_bytes", "1000\n");
        Write($"memory{SystemdScope}/memory.oom_control", V1OomControl);
        Write($"cpu,cpuacct{SystemdScope}/cpu.cfs_quota_us", "50000\n");
        Write($"cpu,cpuacct{SystemdScope}/cpu.cfs_period_us", "100000\n");
        Write($"cpu,cpuacct{SystemdScope}/cpuacct.usage", "999\n");
        Write($"pids{SystemdScope}/pids.max", "1024\n");

        ContainerCgroup cgroup = Locate();
        Assert.Equal(CgroupVersion.V1, cgroup.Version);
        Assert.Equal(Dir("memory" + SystemdScope), cgroup.Memory.Directory);
        Assert.Equal(new CgroupLimits(2147483648, 4294967296, 50000, 100000, 1024), cgroup.ReadLimits());
        Assert.Equal(500, cgroup.ReadLimits().CpuMillicores);
        Assert.Equal(0, cgroup.ReadUsage().CpuMicros);
    }

    [Fact]
    public void V2_systemd_scope_reads_limits_with_swap_added_to_memory_and_usage()
    {
        UnifiedV2(SystemdScope);
        ContainerCgroup cgroup = Locate();

        Assert.Equal(CgroupVersion.V2, cgroup.Version);
        Assert.Equal(Dir(SystemdScope), cgroup.UnifiedDirectory);
        Assert.All([cgroup.Memory, cgroup.Cpu, cgroup.CpuAccounting, cgroup.Pids], c =>
        {
            Assert.Equal(Dir(SystemdScope), c.Directory);
            Assert.Equal(CgroupVersion.V2, c.Version);
        });

        // memory.swap.max is swap alone in v2; CgroupLimits holds memory+swap like v1 and Docker's --memory-swap.
        CgroupLimits limits = cgroup.ReadLimits();
        Assert.Equal(new CgroupLimits(536870912, 1073741824, 50000, 100000, 100), limits);
        Assert.True(limits.SwapAccounting);
        Assert.Equal(500, limits.CpuMillicores);

        CgroupUsage usage = cgroup.ReadUsage();
        Assert.Equal(new CgroupUsage(7777, 99999, 1), usage);
        Assert.True(usage.OomKillsCounted);
    }

    [Fact]
    public void V2_max_everywhere_reads_as_unlimited_and_matches_unlimited()
    {
        UnifiedV2(SystemdScope, memory: "max", swap: "max", cpu: "max 100000", pids: "max");
        CgroupLimits limits = Locate().ReadLimits();

        Assert.Equal(CgroupLimits.Unlimited, limits);
        Assert.Null(limits.CpuMillicores);
        Assert.Empty(limits.CompareTo(CgroupLimits.Unlimited));
    }

    [Fact]
    public void V2_limited_memory_with_unlimited_swap_has_no_memory_and_swap_limit()
    {
        UnifiedV2(SystemdScope, swap: "max", cpu: "max 250000");
        CgroupLimits limits = Locate().ReadLimits();
        Assert.Equal(536870912, limits.MemoryBytes);
        Assert.Null(limits.MemoryAndSwapBytes);
        Assert.True(limits.SwapAccounting);
        Assert.Equal(250000, limits.CpuPeriodMicros);
    }

    [Fact]
    public void V2_memory_plus_swap_beyond_a_long_reads_as_unlimited()
    {
        UnifiedV2(SystemdScope, memory: "4611686018427387904", swap: "4611686018427387904");
        CgroupLimits limits = Locate().ReadLimits();
        Assert.Equal(4611686018427387904, limits.MemoryBytes);
        Assert.Null(limits.MemoryAndSwapBytes);
    }

    [Fact]
    public void V2_old_kernel_without_memory_peak_or_swap_accounting()
    {
        UnifiedV2(SystemdScope);
        File.Delete(Dir(SystemdScope + "/memory.peak"));
        File.Delete(Dir(SystemdScope + "/memory.swap.max"));
        ContainerCgroup cgroup = Locate();

        CgroupUsage usage = cgroup.ReadUsage();
        Assert.Null(usage.PeakMemoryBytes);
        Assert.Equal(7777, usage.CpuMicros);

        CgroupLimits limits = cgroup.ReadLimits();
        Assert.False(limits.SwapAccounting);
        Assert.Null(limits.MemoryAndSwapBytes);

        // Memory+swap cannot be checked: not a mismatch (the sandbox would refuse every job), but reported.
        var wanted = new CgroupLimits(536870912, 1073741824, 50000, 100000, 100);
        Assert.Empty(limits.CompareTo(wanted, out IReadOnlyList<LimitKind> notChecked));
        Assert.Equal([LimitKind.MemoryAndSwap], notChecked);
    }

    [Fact]
    public void V2_controller_not_enabled_means_no_limit_but_enabled_and_missing_is_an_error()
    {
        UnifiedV2(SystemdScope);
        File.Delete(Dir(SystemdScope + "/memory.max"));
        File.Delete(Dir(SystemdScope + "/memory.swap.max"));
        File.Delete(Dir(SystemdScope + "/memory.events"));
        Write($"{SystemdScope}/cgroup.controllers", "cpu pids\n");
        CgroupLimits limits = Locate().ReadLimits();
        Assert.Null(limits.MemoryBytes);
        Assert.False(Locate().ReadUsage().OomKillsCounted);

        Write($"{SystemdScope}/cgroup.controllers", "cpu memory pids\n");
        InfraException e = Fails(() => Locate().ReadLimits());
        Assert.Contains("memory.max is missing", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void V2_root_cgroup_has_no_limit_files_and_reads_as_unlimited()
    {
        ProcCgroup("0::/\n");
        Write("cgroup.controllers", "cpuset cpu io memory pids\n");
        Write("cpu.stat", V2Stat);
        ContainerCgroup cgroup = Locate();

        Assert.True(cgroup.Memory.IsHierarchyRoot);
        Assert.Equal(CgroupLimits.Unlimited with { SwapAccounting = false }, cgroup.ReadLimits());
        CgroupUsage usage = cgroup.ReadUsage();
        Assert.Equal(7777, usage.CpuMicros);
        Assert.Null(usage.PeakMemoryBytes);
        Assert.False(usage.OomKillsCounted);
    }

    [Fact]
    public void Hybrid_host_reads_memory_cpu_and_pids_from_v1_not_the_unified_tree()
    {
        // Like systemd's hybrid mode: v1 controllers, and a v2 tree at {root}/unified holding no controllers.
        ProcCgroup($"9:name=systemd:{SystemdScope}\n8:pids:{SystemdScope}\n4:memory:{SystemdScope}\n2:cpuacct:{SystemdScope}\n1:cpu:{SystemdScope}\n0::{SystemdScope}\n");
        Write($"memory{SystemdScope}/memory.limit_in_bytes", "268435456\n");
        Write($"memory{SystemdScope}/memory.memsw.limit_in_bytes", "268435456\n");
        Write($"memory{SystemdScope}/memory.max_usage_in_bytes", "1000\n");
        Write($"memory{SystemdScope}/memory.oom_control", V1OomControl);
        Write($"cpu{SystemdScope}/cpu.cfs_quota_us", "200000\n");
        Write($"cpu{SystemdScope}/cpu.cfs_period_us", "100000\n");
        Write($"cpuacct{SystemdScope}/cpuacct.usage", "5000000\n");
        Write($"pids{SystemdScope}/pids.max", "64\n");
        Write($"unified{SystemdScope}/cgroup.controllers", "\n");
        Write($"unified{SystemdScope}/cpu.stat", V2Stat);
        Write($"unified{SystemdScope}/memory.max", "1\n"); // a decoy: v1 enforces memory here

        ContainerCgroup cgroup = Locate();
        Assert.Equal(CgroupVersion.Hybrid, cgroup.Version);
        Assert.Equal(Dir("unified" + SystemdScope), cgroup.UnifiedDirectory);
        Assert.Equal(CgroupVersion.V1, cgroup.Memory.Version);
        Assert.Equal(Dir("cpu" + SystemdScope), cgroup.Cpu.Directory);
        Assert.Equal(Dir("cpuacct" + SystemdScope), cgroup.CpuAccounting.Directory);
        Assert.Equal(new CgroupLimits(268435456, 268435456, 200000, 100000, 64), cgroup.ReadLimits());
        Assert.Equal(5000, cgroup.ReadUsage().CpuMicros);
    }

    [Fact]
    public void Hybrid_host_without_a_v1_pids_line_uses_the_unified_tree()
    {
        ProcCgroup($"4:memory:{SystemdScope}\n1:cpu,cpuacct:{SystemdScope}\n0::{SystemdScope}\n");
        Write($"memory{SystemdScope}/memory.limit_in_bytes", "268435456\n");
        Write($"cpu,cpuacct{SystemdScope}/cpu.cfs_quota_us", "-1\n");
        Write($"cpu,cpuacct{SystemdScope}/cpu.cfs_period_us", "100000\n");
        Write($"unified{SystemdScope}/cgroup.controllers", "pids\n");
        Write($"unified{SystemdScope}/pids.max", "32\n");

        ContainerCgroup cgroup = Locate();
        Assert.Equal(CgroupVersion.V2, cgroup.Pids.Version);
        Assert.Equal(Dir("unified" + SystemdScope), cgroup.Pids.Directory);
        CgroupLimits limits = cgroup.ReadLimits();
        Assert.Equal(32, limits.Pids);
        Assert.False(limits.SwapAccounting);
    }

    [Fact]
    public void Like_this_machine_root_v1_pids_has_no_pids_max_and_reads_as_unlimited()
    {
        ProcCgroup("8:pids:/\n4:memory:/process_api/0a44\n2:cpuacct:/\n1:cpu:/\n0::/\n");
        Write("memory/process_api/0a44/memory.limit_in_bytes", "9223372036854771712\n");
        Write("memory/process_api/0a44/memory.memsw.limit_in_bytes", "9223372036854771712\n");
        Write("cpu/cpu.cfs_quota_us", "-1\n");
        Write("cpu/cpu.cfs_period_us", "100000\n");
        Directory.CreateDirectory(Dir("pids"));
        Directory.CreateDirectory(Dir("cpuacct"));
        Directory.CreateDirectory(Dir("unified"));

        ContainerCgroup cgroup = Locate();
        Assert.Equal(CgroupVersion.Hybrid, cgroup.Version);
        Assert.True(cgroup.Pids.IsHierarchyRoot);
        Assert.Equal(CgroupLimits.Unlimited, cgroup.ReadLimits());
    }

    [Fact]
    public void V1_pids_max_missing_below_the_root_is_an_error()
    {
        DockerCgroupfsV1();
        File.Delete(Dir($"pids{DockerV1}/pids.max"));
        InfraException e = Fails(() => Locate().ReadLimits());
        Assert.Contains($"pids{DockerV1}/pids.max is missing", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Podman_v2_machine_slice_scope()
    {
        string scope = "/machine.slice/libpod-" + Id + ".scope";
        UnifiedV2(scope, memory: "1073741824", swap: "0", cpu: "200000 100000", pids: "2048");
        ContainerCgroup cgroup = Locate();
        Assert.Equal(Dir(scope), cgroup.Memory.Directory);
        Assert.Equal(new CgroupLimits(1073741824, 1073741824, 200000, 100000, 2048), cgroup.ReadLimits());
        Assert.Equal(2000, cgroup.ReadLimits().CpuMillicores);
    }

    [Fact]
    public void Podman_v1_cgroupfs_libpod_parent()
    {
        string path = "/libpod_parent/libpod-" + Id;
        ProcCgroup($"11:pids:{path}\n9:memory:{path}\n3:cpu,cpuacct:{path}\n");
        Write($"memory{path}/memory.limit_in_bytes", "104857600\n");
        Write($"cpu,cpuacct{path}/cpu.cfs_quota_us", "25000\n");
        Write($"cpu,cpuacct{path}/cpu.cfs_period_us", "100000\n");
        Write($"pids{path}/pids.max", "max\n");

        ContainerCgroup cgroup = Locate();
        Assert.Equal(Dir("memory" + path), cgroup.Memory.Directory);
        CgroupLimits limits = cgroup.ReadLimits();
        Assert.Equal(new CgroupLimits(104857600, null, 25000, 100000, null) { SwapAccounting = false }, limits);
        Assert.Equal(250, limits.CpuMillicores);
    }

    [Theory]
    [InlineData("9223372036854771712")] // 4 KiB pages
    [InlineData("9223372036854759424")] // 16 KiB pages
    [InlineData("9223372036854710272")] // 64 KiB pages (arm64)
    [InlineData("9223372036854775807")] // kernels before 3.19
    public void V1_unlimited_sentinels_read_as_null(string sentinel)
    {
        DockerCgroupfsV1(memoryLimit: sentinel, quota: "-1", pids: "max");
        Write($"memory{DockerV1}/memory.memsw.limit_in_bytes", sentinel + "\n");
        CgroupLimits limits = Locate().ReadLimits();
        Assert.Equal(CgroupLimits.Unlimited, limits);
    }

    [Fact]
    public void V1_large_but_real_limit_is_kept()
    {
        DockerCgroupfsV1(memoryLimit: "1099511627776");
        Assert.Equal(1099511627776, Locate().ReadLimits().MemoryBytes);
    }

    [Fact]
    public void V1_old_kernel_without_swap_accounting_or_oom_kill_line()
    {
        DockerCgroupfsV1();
        File.Delete(Dir($"memory{DockerV1}/memory.memsw.limit_in_bytes"));
        Write($"memory{DockerV1}/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\n");
        ContainerCgroup cgroup = Locate();

        CgroupLimits limits = cgroup.ReadLimits();
        Assert.False(limits.SwapAccounting);
        Assert.Null(limits.MemoryAndSwapBytes);
        CgroupUsage usage = cgroup.ReadUsage();
        Assert.Equal(0, usage.OomKills);
        Assert.False(usage.OomKillsCounted);
    }

    [Fact]
    public void Limits_as_asked_give_no_mismatch()
    {
        DockerCgroupfsV1();
        CgroupLimits actual = Locate().ReadLimits();
        Assert.Empty(actual.CompareTo(new CgroupLimits(536870912, 1073741824, 150000, 100000, 256)));

        // The same ratio over another period is the same CPU limit.
        Assert.Empty(actual.CompareTo(new CgroupLimits(536870912, 1073741824, 15000, 10000, 256)));

        // The kernel rounds byte limits down to whole pages; a limit a few bytes under what was asked is in force.
        Assert.Empty(actual.CompareTo(new CgroupLimits(536870912 + 100, 1073741824 + 100, 150000, 100000, 256), out IReadOnlyList<LimitKind> notChecked));
        Assert.Empty(notChecked);
    }

    [Fact]
    public void Tampered_memory_limit_is_reported()
    {
        // Asked for 512 MiB; someone raised it to 1 GiB after the container started.
        DockerCgroupfsV1(memoryLimit: "1073741824");
        IReadOnlyList<LimitMismatch> mismatches = Locate().ReadLimits().CompareTo(new CgroupLimits(536870912, 1073741824, 150000, 100000, 256));

        LimitMismatch only = Assert.Single(mismatches);
        Assert.Equal(LimitKind.Memory, only.Kind);
        Assert.Equal(536870912, only.Wanted);
        Assert.Equal(1073741824, only.Actual);
        Assert.Equal("memory limit in force is 1073741824 bytes, but 536870912 bytes was asked", only.Message);
    }

    [Fact]
    public void Tampered_cpu_pids_and_swap_are_each_reported()
    {
        DockerCgroupfsV1(quota: "-1", pids: "max");
        Write($"memory{DockerV1}/memory.memsw.limit_in_bytes", "2147483648\n");
        IReadOnlyList<LimitMismatch> mismatches = Locate().ReadLimits().CompareTo(new CgroupLimits(536870912, 1073741824, 150000, 100000, 256));

        Assert.Equal([LimitKind.MemoryAndSwap, LimitKind.Cpu, LimitKind.Pids], mismatches.Select(m => m.Kind));
        LimitMismatch cpu = mismatches[1];
        Assert.Equal(1500, cpu.Wanted);
        Assert.Null(cpu.Actual);
        Assert.Equal("CPU quota in force is unlimited, but 1500 millicores was asked", cpu.Message);
        Assert.Equal("process limit in force is unlimited, but 256 pids was asked", mismatches[2].Message);
    }

    [Fact]
    public void A_limit_stricter_than_asked_is_also_a_mismatch()
    {
        DockerCgroupfsV1(memoryLimit: "268435456", quota: "100000");
        IReadOnlyList<LimitMismatch> mismatches = Locate().ReadLimits().CompareTo(new CgroupLimits(536870912, 1073741824, 150000, 100000, 256));
        Assert.Equal([LimitKind.Memory, LimitKind.Cpu], mismatches.Select(m => m.Kind));
        Assert.Equal(1000, mismatches[1].Actual);
    }

    [Fact]
    public void Limited_where_unlimited_was_asked_is_a_mismatch()
    {
        DockerCgroupfsV1();
        IReadOnlyList<LimitMismatch> mismatches = Locate().ReadLimits().CompareTo(CgroupLimits.Unlimited);
        Assert.Equal([LimitKind.Memory, LimitKind.MemoryAndSwap, LimitKind.Cpu, LimitKind.Pids], mismatches.Select(m => m.Kind));
    }

    [Theory]
    [InlineData("")]
    [InlineData("\n")]
    [InlineData("abc\n")]
    [InlineData("-5\n")]
    [InlineData("-1\n")]
    [InlineData("+5\n")]
    [InlineData(" 5\n")]
    [InlineData("5 \n")]
    [InlineData("5\n\n")]
    [InlineData("1.5\n")]
    [InlineData("0x10\n")]
    [InlineData("max\n")]
    [InlineData("5\0\n")]
    [InlineData("9223372036854775808\n")] // LONG_MAX + 1
    [InlineData("18446744073709551615\n")] // ULLONG_MAX
    [InlineData("99999999999999999999999999\n")]
    public void Malformed_v1_memory_limit_is_a_clear_error(string content)
    {
        DockerCgroupfsV1();
        Write($"memory{DockerV1}/memory.limit_in_bytes", content);
        InfraException e = Fails(() => Locate().ReadLimits());
        Assert.Contains($"memory{DockerV1}/memory.limit_in_bytes", e.Message, StringComparison.Ordinal);
        Assert.Contains("expected a byte count", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("0\n")]
    [InlineData("-2\n")]
    [InlineData("--1\n")]
    [InlineData("-1 \n")]
    [InlineData("max\n")]
    public void Malformed_v1_quota_is_a_clear_error(string content)
    {
        DockerCgroupfsV1();
        Write($"cpu,cpuacct{DockerV1}/cpu.cfs_quota_us", content);
        InfraException e = Fails(() => Locate().ReadLimits());
        Assert.Contains("cpu.cfs_quota_us", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Zero_v1_period_is_a_clear_error()
    {
        DockerCgroupfsV1();
        Write($"cpu,cpuacct{DockerV1}/cpu.cfs_period_us", "0\n");
        Assert.Contains("cpu.cfs_period_us reads \"0\"", Fails(() => Locate().ReadLimits()).Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("max\n")]
    [InlineData("50000\n")]
    [InlineData("50000 0\n")]
    [InlineData("0 100000\n")]
    [InlineData("50000 -1\n")]
    [InlineData("-1 100000\n")]
    [InlineData("a b\n")]
    [InlineData("50000 100000 7\n")]
    [InlineData("max max\n")]
    [InlineData("50000  100000\n")]
    [InlineData(" 50000 100000\n")]
    [InlineData("50000 99999999999999999999\n")]
    public void Malformed_v2_cpu_max_is_a_clear_error(string content)
    {
        UnifiedV2(SystemdScope);
        Write($"{SystemdScope}/cpu.max", content);
        InfraException e = Fails(() => Locate().ReadLimits());
        Assert.Contains($"{SystemdScope}/cpu.max", e.Message, StringComparison.Ordinal);
        Assert.Contains("QUOTA PERIOD", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("memory.max", "maximum\n")]
    [InlineData("memory.max", "MAX\n")]
    [InlineData("memory.swap.max", "-1\n")]
    [InlineData("pids.max", "max \n")]
    [InlineData("pids.max", "-1\n")]
    public void Malformed_v2_limits_are_a_clear_error(string file, string content)
    {
        UnifiedV2(SystemdScope);
        Write($"{SystemdScope}/{file}", content);
        Assert.Contains($"{SystemdScope}/{file}", Fails(() => Locate().ReadLimits()).Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("cpu.stat", "usage_usec\n")]
    [InlineData("cpu.stat", "usage_usec x\n")]
    [InlineData("cpu.stat", "usage_usec -1\n")]
    [InlineData("cpu.stat", "usage_usec 1\nusage_usec 2\n")]
    [InlineData("cpu.stat", "user_usec 5\nsystem_usec 6\n")] // no usage_usec at all
    [InlineData("cpu.stat", "garbage")]
    [InlineData("cpu.stat", "")]
    [InlineData("cpu.stat", "usage_usec 99999999999999999999\n")]
    [InlineData("memory.events", "oom_kill -1\n")]
    [InlineData("memory.events", "oom 0\nnonsense\noom_kill 3\n")]
    [InlineData("memory.peak", "lots\n")]
    public void Malformed_v2_usage_files_are_a_clear_error(string file, string content)
    {
        UnifiedV2(SystemdScope);
        Write($"{SystemdScope}/{file}", content);
        Assert.Contains($"{SystemdScope}/{file}", Fails(() => Locate().ReadUsage()).Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("cpuacct.usage", "-1\n")]
    [InlineData("cpuacct.usage", "18446744073709551615\n")]
    [InlineData("cpuacct.usage", "")]
    public void Malformed_v1_usage_files_are_a_clear_error(string file, string content)
    {
        DockerCgroupfsV1();
        Write($"cpu,cpuacct{DockerV1}/{file}", content);
        Assert.Contains(file, Fails(() => Locate().ReadUsage()).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Huge_limit_file_is_refused_not_read_whole()
    {
        DockerCgroupfsV1();
        Write($"memory{DockerV1}/memory.limit_in_bytes", new string('1', 200 * 1024));
        InfraException e = Fails(() => Locate().ReadLimits());
        Assert.Contains("is over 64 KiB", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Huge_proc_cgroup_file_is_refused()
    {
        var lines = new StringBuilder();
        for (int i = 1; lines.Length <= 70 * 1024; i++)
            lines.Append(i).Append(":memory:").Append(DockerV1).Append('\n');
        ProcCgroup(lines.ToString());
        Assert.Contains("is over 64 KiB", LocateFails().Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("")]
    [InlineData("\n\n")]
    [InlineData("garbage\n")]
    [InlineData("4:memory\n")]
    [InlineData("x:memory:/a\n")]
    [InlineData("-4:memory:/a\n")]
    [InlineData("99999999999:memory:/a\n")]
    [InlineData("4:memory:relative/path\n")]
    [InlineData("4:memory:\n")]
    [InlineData("4:memory:/docker/../../../etc\n")]
    [InlineData("4:memory:/..\n")]
    [InlineData("4:../memory:/a\n")]
    [InlineData("4:mem/ory:/a\n")]
    [InlineData("4:mem ory:/a\n")]
    [InlineData("0:memory:/a\n")]
    [InlineData("4::/a\n")]
    [InlineData("0::/a\n0::/b\n")]
    [InlineData("4:memory:/a\0b\n")]
    public void Malformed_proc_cgroup_file_is_a_clear_error(string content)
    {
        ProcCgroup(content);
        InfraException e = LocateFails();
        Assert.Contains($"{Pid}/cgroup", e.Message, StringComparison.Ordinal);
        Assert.Contains("expected", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Proc_cgroup_path_that_is_not_utf8_is_a_clear_error()
    {
        string path = _dir[$"proc/{Pid}/cgroup"];
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, [.. "4:memory:/a"u8, 0xFF, 0xFE, (byte)'\n']);
        Assert.Contains("a UTF-8 cgroup path", LocateFails().Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Path_with_colons_keeps_them()
    {
        ProcCgroup("0::/weird:name\n");
        Write("weird:name/cgroup.controllers", "\n");
        Assert.Equal(Dir("weird:name"), Locate().UnifiedDirectory);
    }

    [Fact]
    public void Missing_proc_cgroup_names_the_file_and_the_process()
    {
        InfraException e = LocateFails();
        Assert.Contains($"no {Proc}/{Pid}/cgroup: process {Pid} is not running", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Proc_cgroup_that_is_a_folder_is_a_clear_error()
    {
        Directory.CreateDirectory(_dir[$"proc/{Pid}/cgroup"]);
        Assert.Contains("cannot read", LocateFails().Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Missing_v1_controller_folder_is_a_clear_error()
    {
        DockerCgroupfsV1();
        Directory.Delete(Dir("memory" + DockerV1), recursive: true);
        InfraException e = LocateFails();
        Assert.Contains($"the memory cgroup folder of process {Pid} ({Dir("memory" + DockerV1)}", e.Message, StringComparison.Ordinal);
        Assert.Contains("does not exist", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Missing_v2_folder_is_a_clear_error()
    {
        ProcCgroup($"0::{SystemdScope}\n");
        Assert.Contains($"the cgroup v2 folder {Dir(SystemdScope)}", LocateFails().Message, StringComparison.Ordinal);
    }

    [Fact]
    public void V1_host_without_a_pids_hierarchy_says_so()
    {
        ProcCgroup($"11:memory:{DockerV1}\n4:cpu,cpuacct:{DockerV1}\n");
        Directory.CreateDirectory(Dir("memory" + DockerV1));
        Directory.CreateDirectory(Dir("cpu,cpuacct" + DockerV1));
        Assert.Contains("has no pids cgroup", LocateFails().Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Non_positive_pid_is_an_argument_error()
    {
        Assert.Throws<ArgumentException>(() => ContainerCgroup.Locate(0, Proc, Root));
        Assert.Throws<ArgumentException>(() => ContainerCgroup.Locate(-1, Proc, Root));
    }

    [Fact]
    public void Every_prefix_of_a_proc_cgroup_file_parses_or_fails_cleanly()
    {
        byte[] full = Encoding.UTF8.GetBytes($"12:pids:{DockerV1}\n4:cpu,cpuacct:{DockerV1}\n1:name=systemd:/\n0::/\n");
        for (int length = 0; length <= full.Length; length++)
        {
            try
            {
                List<CgroupLine> lines = ProcCgroupFile.Parse(full.AsSpan(0, length), "fixture");
                Assert.All(lines, l => Assert.StartsWith("/", l.Path, StringComparison.Ordinal));
            }
            catch (InfraException e)
            {
                Assert.Equal(FailureKind.Runtime, e.Kind);
            }
        }
    }

    [Fact]
    public void Every_prefix_of_a_cpu_max_parses_or_fails_cleanly()
    {
        byte[] full = "150000 100000\n"u8.ToArray();
        for (int length = 0; length <= full.Length; length++)
        {
            try
            {
                (long? quota, long period) = CgroupText.ParseCpuMax(full.AsSpan(0, length), "fixture");
                Assert.Equal(150000, quota);
                Assert.True(period > 0);
            }
            catch (InfraException e)
            {
                Assert.Equal(FailureKind.Runtime, e.Kind);
            }
        }

        Assert.Equal(((long?)150000, 100000L), CgroupText.ParseCpuMax(full, "fixture"));
    }

    [Fact]
    public void Error_excerpt_escapes_control_bytes_and_truncates()
    {
        Assert.Equal("a\\x00\\x0a\\x22", CgroupText.Excerpt("a\0\n\""u8));
        Assert.EndsWith("...", CgroupText.Excerpt(new byte[100]), StringComparison.Ordinal);
    }

    [Fact]
    public void Real_process_cgroup_is_located_and_read()
    {
        // This machine's own layout, whatever it is: the folders exist and every reader succeeds.
        ContainerCgroup cgroup = ContainerCgroup.LocateOwn();
        Assert.Equal(Environment.ProcessId, cgroup.ProcessId);
        Assert.All([cgroup.Memory, cgroup.Cpu, cgroup.CpuAccounting, cgroup.Pids], c => Assert.True(Directory.Exists(c.Directory), c.ToString()));

        CgroupLimits limits = cgroup.ReadLimits();
        Assert.True(limits.CpuPeriodMicros > 0);
        Assert.Equal(limits, ContainerCgroup.ReadOwn());

        CgroupUsage usage = cgroup.ReadUsage();
        _output.WriteLine($"{cgroup}\n{limits}\n{usage}");
        Assert.True(usage.CpuMicros > 0, $"{cgroup}: {usage}");
        Assert.True(usage.OomKills >= 0);
    }

    [Fact]
    public void Usage_files_held_open_read_what_the_path_reader_reads_and_follow_new_values_v1()
    {
        DockerCgroupfsV1();
        ContainerCgroup cgroup = Locate();
        using CgroupUsageFiles files = CgroupUsageFiles.TryOpen(cgroup)!;
        Assert.Equal(cgroup.ReadUsage(), files.ReadUsage());
        Assert.Equal(2500000, files.ReadCpuMicros());

        // Rewritten in place, as the kernel produces its files per read: the held handles see the new figures.
        Write($"cpu,cpuacct{DockerV1}/cpuacct.usage", "7000000000\n");
        Write($"memory{DockerV1}/memory.max_usage_in_bytes", "987654321\n");
        Write($"memory{DockerV1}/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 5\n");
        CgroupUsage usage = files.ReadUsage();
        Assert.Equal(new CgroupUsage(7000000, 987654321, 5), usage);
        Assert.True(usage.OomKillsCounted);
        Assert.Equal(cgroup.ReadUsage(), usage);
    }

    [Fact]
    public void Usage_files_held_open_read_what_the_path_reader_reads_v2_and_an_old_kernel()
    {
        UnifiedV2(SystemdScope);
        ContainerCgroup cgroup = Locate();
        using (CgroupUsageFiles files = CgroupUsageFiles.TryOpen(cgroup)!)
        {
            Assert.Equal(new CgroupUsage(7777, 99999, 1), files.ReadUsage());
            Assert.Equal(7777, files.ReadCpuMicros());
        }

        // No memory.peak (before 5.19) and no oom_kill line (before 4.13): unknown, as the path reader says.
        File.Delete(Dir(SystemdScope + "/memory.peak"));
        Write($"{SystemdScope}/memory.events", "low 0\nhigh 0\nmax 0\noom 0\n");
        using (CgroupUsageFiles files = CgroupUsageFiles.TryOpen(cgroup)!)
        {
            CgroupUsage usage = files.ReadUsage();
            Assert.Equal(cgroup.ReadUsage(), usage);
            Assert.Null(usage.PeakMemoryBytes);
            Assert.False(usage.OomKillsCounted);
        }
    }

    [Fact]
    public void Usage_files_are_not_held_when_a_required_one_is_missing_and_bad_content_fails_like_the_path_reader()
    {
        DockerCgroupfsV1();
        ContainerCgroup cgroup = Locate();
        File.Delete(Dir($"memory{DockerV1}/memory.max_usage_in_bytes"));
        Assert.Null(CgroupUsageFiles.TryOpen(cgroup)); // the caller reads by path, which names the missing file
        Fails(() => cgroup.ReadUsage());

        DockerCgroupfsV1();
        File.Delete(Dir($"cpu,cpuacct{DockerV1}/cpuacct.usage"));
        Assert.Null(CgroupUsageFiles.TryOpen(cgroup));

        DockerCgroupfsV1();
        using CgroupUsageFiles files = CgroupUsageFiles.TryOpen(cgroup)!;
        Write($"cpu,cpuacct{DockerV1}/cpuacct.usage", "lots\n");
        string held = Fails(() => files.ReadCpuMicros()).Message;
        string byPath = Fails(() => cgroup.ReadUsage()).Message;
        Assert.Equal(byPath, held);
        Write($"cpu,cpuacct{DockerV1}/cpuacct.usage", new string('9', CgroupText.MaxFileBytes + 10));
        Assert.Contains("is over 64 KiB", Fails(() => files.ReadUsage()).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Usage_files_read_after_dispose_fail_instead_of_reading_a_reused_descriptor()
    {
        DockerCgroupfsV1();
        CgroupUsageFiles files = CgroupUsageFiles.TryOpen(Locate())!;
        files.Dispose();
        Assert.Throws<ObjectDisposedException>(() => files.ReadCpuMicros());
        Assert.Throws<ObjectDisposedException>(() => files.ReadUsage());
    }
}
