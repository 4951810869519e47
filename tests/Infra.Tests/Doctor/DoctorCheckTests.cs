using System.Diagnostics;
using System.Text;
using InfraMind.Node.Configuration;
using InfraMind.Node.Containers.Engine;
using InfraMind.Node.Doctor;
using InfraMind.Node.Hardware.Nvml;
using InfraMind.Node.Tests.Hardware;
using InfraMind.Node.Tests.Support;
using DoctorCommand = InfraMind.Node.Cli.DoctorCommand;
using Libc = InfraMind.Node.Interop.Libc;

namespace InfraMind.Node.Tests.Doctor;

/// <summary>The doctor's verdicts from given facts: fixture cgroup trees, temp key files, engine /info answers, cache indexes.</summary>
public sealed class DoctorCheckTests : IDisposable
{
    private const int Pid = 4242;
    private readonly TempFolder _dir = new();

    public void Dispose() => _dir.Dispose();

    // ---- cgroups -------------------------------------------------------------------------------------------------

    private (string Proc, string Cgroup) Tree(string procCgroup, params (string Path, string Content)[] files)
    {
        string proc = _dir["proc"];
        string cgroup = _dir["cgroup"];
        _dir.Write($"proc/{Pid}/cgroup", procCgroup);
        foreach ((string path, string content) in files)
            _dir.Write($"cgroup/{path}", content);
        Directory.CreateDirectory(cgroup);
        return (proc, cgroup);
    }

    [Fact]
    public void Cgroup_v2_with_cpu_memory_pids_passes_and_shows_the_agents_limits()
    {
        (string proc, string cgroup) = Tree("0::/infra.slice/agent.scope\n",
            ("infra.slice/agent.scope/cgroup.controllers", "cpuset cpu io memory hugetlb pids\n"),
            ("infra.slice/agent.scope/memory.max", "2147483648\n"),
            ("infra.slice/agent.scope/memory.swap.max", "0\n"),
            ("infra.slice/agent.scope/cpu.max", "150000 100000\n"),
            ("infra.slice/agent.scope/pids.max", "512\n"));
        CheckResult result = CgroupCheck.Run(proc, cgroup, Pid);
        Assert.Equal(CheckOutcome.Ok, result.Outcome);
        Assert.Equal("v2, cpu, memory and pids available; agent limits: memory 2Gi, cpu 1500m, pids 512", result.Detail);
    }

    [Fact]
    public void Cgroup_v2_without_pids_fails_naming_the_parents_subtree_control()
    {
        (string proc, string cgroup) = Tree("0::/infra.slice/agent.scope\n",
            ("infra.slice/agent.scope/cgroup.controllers", "cpu memory\n"));
        CheckResult result = CgroupCheck.Run(proc, cgroup, Pid);
        Assert.Equal(CheckOutcome.Failed, result.Outcome);
        Assert.Contains("pids not available to the agent's cgroup", result.Detail, StringComparison.Ordinal);
        Assert.Equal($"enable them in the parent: echo '+pids' > {cgroup}/infra.slice/cgroup.subtree_control (under systemd, set Delegate=yes in the unit)", result.Fix);
    }

    [Fact]
    public void Cgroup_v2_with_no_controllers_lists_all_three()
    {
        (string proc, string cgroup) = Tree("0::/a\n", ("a/cgroup.controllers", "\n"));
        CheckResult result = CgroupCheck.Run(proc, cgroup, Pid);
        Assert.Equal(CheckOutcome.Failed, result.Outcome);
        Assert.Contains("cpu, memory, pids not available", result.Detail, StringComparison.Ordinal);
        Assert.Contains("'+cpu +memory +pids'", result.Fix, StringComparison.Ordinal);
    }

    [Fact]
    public void Cgroup_v1_with_every_controller_passes()
    {
        (string proc, string cgroup) = Tree("5:pids:/a\n4:memory:/a\n2:cpu,cpuacct:/a\n1:name=systemd:/a\n0::/a\n",
            ("memory/a/memory.limit_in_bytes", "9223372036854771712\n"),
            ("cpu,cpuacct/a/cpu.cfs_quota_us", "-1\n"),
            ("cpu,cpuacct/a/cpu.cfs_period_us", "100000\n"),
            ("pids/a/pids.max", "max\n"));
        CheckResult result = CgroupCheck.Run(proc, cgroup, Pid);
        Assert.Equal(CheckOutcome.Ok, result.Outcome);
        Assert.StartsWith("v1, cpu, memory and pids available; agent limits: memory max, cpu max, pids max", result.Detail, StringComparison.Ordinal);
        Assert.EndsWith("; no swap accounting", result.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Cgroup_v1_without_a_pids_hierarchy_fails_with_a_fix()
    {
        (string proc, string cgroup) = Tree("4:memory:/a\n2:cpu,cpuacct:/a\n",
            ("memory/a/memory.limit_in_bytes", "1000\n"),
            ("cpu,cpuacct/a/cpu.cfs_quota_us", "-1\n"));
        CheckResult result = CgroupCheck.Run(proc, cgroup, Pid);
        Assert.Equal(CheckOutcome.Failed, result.Outcome);
        Assert.Contains("no pids cgroup", result.Detail, StringComparison.Ordinal);
        Assert.Equal("enable the pids controller on this host", result.Fix);
    }

    [Theory]
    [InlineData("garbage\n")]
    [InlineData("4:memory")]
    [InlineData("4:memory:/../../etc\n")]
    [InlineData("")]
    [InlineData("0::/a\n0::/b\n")]
    public void Cgroup_malformed_or_hostile_proc_file_is_a_failed_line_not_an_exception(string content)
    {
        (string proc, string cgroup) = Tree(content);
        CheckResult result = CgroupCheck.Run(proc, cgroup, Pid);
        Assert.Equal(CheckOutcome.Failed, result.Outcome);
        Assert.NotNull(result.Fix);
    }

    [Fact]
    public void Cgroup_oversized_or_missing_files_fail_with_their_reason()
    {
        (string proc, string cgroup) = Tree(new string('1', 70_000));
        Assert.Contains("over 64 KiB", CgroupCheck.Run(proc, cgroup, Pid).Detail, StringComparison.Ordinal);
        Assert.Contains("is not running", CgroupCheck.Run(proc, cgroup, Pid + 1).Detail, StringComparison.Ordinal);

        (proc, cgroup) = Tree("0::/a\n", ("a/cgroup.controllers", "cpu memory pids\n"), ("a/memory.max", "lots\n"));
        CheckResult unreadable = CgroupCheck.Run(proc, cgroup, Pid);
        Assert.Equal(CheckOutcome.Failed, unreadable.Outcome);
        Assert.Contains("limits unreadable", unreadable.Detail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(true, CheckOutcome.Warning)]
    [InlineData(false, CheckOutcome.Failed)]
    public void Cgroup_folder_not_visible_is_a_warning_inside_a_container_and_a_failure_on_a_host(bool inContainer, CheckOutcome expected)
    {
        // What Docker on a v1 host shows a container: /proc names the host's folder, the mount is the container's own.
        (string proc, string cgroup) = Tree("4:memory:/docker/abc\n2:cpu,cpuacct:/docker/abc\n5:pids:/docker/abc\n",
            ("memory/memory.limit_in_bytes", "9223372036854771712\n"),
            ("cpu,cpuacct/cpu.cfs_quota_us", "-1\n"),
            ("pids/pids.max", "max\n"));
        CheckResult result = CgroupCheck.Run(proc, cgroup, Pid, () => inContainer);
        Assert.Equal(expected, result.Outcome);
        Assert.Contains("/docker/abc", result.Detail, StringComparison.Ordinal);
        Assert.NotNull(result.Fix);
        if (inContainer)
            Assert.Contains("--cgroupns=private", result.Fix, StringComparison.Ordinal);
    }

    [Fact]
    public void Cgroup_of_this_host_is_read_without_failing()
    {
        // The CI machine is cgroup v1 or hybrid with every controller: the real tree must pass.
        CheckResult result = CgroupCheck.Run();
        Assert.Equal(CheckOutcome.Ok, result.Outcome);
    }

    // ---- identity ------------------------------------------------------------------------------------------------

    private string Key(string folderMode = "700", string fileMode = "600", string content = "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318\n")
    {
        string folder = _dir["keys"];
        Directory.CreateDirectory(folder);
        string key = Path.Combine(folder, "identity.key");
        File.WriteAllText(key, content);
        File.SetUnixFileMode(key, (UnixFileMode)Convert.ToInt32(fileMode, 8));
        File.SetUnixFileMode(folder, (UnixFileMode)Convert.ToInt32(folderMode, 8));
        return key;
    }

    [Fact]
    public void Identity_0600_in_a_0700_folder_of_its_owner_passes()
    {
        string key = Key();
        CheckResult result = IdentityCheck.Run(key);
        Assert.Equal(CheckOutcome.Ok, result.Outcome);
        Assert.Equal($"node 0x2c7536E3605D9C16a7a3D7b1898e529396a65c23 (key {key}, mode 0600, folder 0700)", result.Detail);
    }

    [Fact]
    public void Identity_readable_by_others_fails_with_chmod()
    {
        string key = Key(fileMode: "640");
        CheckResult result = IdentityCheck.Run(key);
        Assert.Equal(CheckOutcome.Failed, result.Outcome);
        Assert.Equal($"chmod 600 {key}", result.Fix);
    }

    [Fact]
    public void Identity_owned_by_another_user_fails_with_chown()
    {
        string key = Key();
        CheckResult result = IdentityCheck.Run(key, expectedOwner: Libc.Geteuid() + 4321);
        Assert.Equal(CheckOutcome.Failed, result.Outcome);
        Assert.Contains($"belongs to uid {Libc.Geteuid()}, not to uid {Libc.Geteuid() + 4321}", result.Detail, StringComparison.Ordinal);
        Assert.StartsWith($"chown {Libc.Geteuid() + 4321} {key}", result.Fix, StringComparison.Ordinal);
    }

    [Fact]
    public void Identity_really_chowned_away_fails()
    {
        if (Libc.Geteuid() != 0)
            return; // only root can give a file away; CI runs as root
        string key = Key();
        File.SetUnixFileMode(_dir["keys"], (UnixFileMode)Convert.ToInt32("700", 8));
        Chown(key, 12345);
        CheckResult result = IdentityCheck.Run(key);
        Assert.Equal(CheckOutcome.Failed, result.Outcome);
        Assert.Contains("belongs to uid 12345, not to uid 0", result.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Identity_in_a_folder_others_can_write_fails_and_a_readable_one_warns()
    {
        string key = Key(folderMode: "777");
        CheckResult writable = IdentityCheck.Run(key);
        Assert.Equal(CheckOutcome.Failed, writable.Outcome);
        Assert.Contains("others can write the folder", writable.Detail, StringComparison.Ordinal);
        Assert.Equal($"chmod 700 {_dir["keys"]}", writable.Fix);

        key = Key(folderMode: "755");
        CheckResult readable = IdentityCheck.Run(key);
        Assert.Equal(CheckOutcome.Warning, readable.Outcome);
        Assert.Contains("folder 0755", readable.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Identity_in_a_folder_of_another_user_fails()
    {
        if (Libc.Geteuid() != 0)
            return;
        string key = Key();
        Chown(_dir["keys"], 12345);
        CheckResult result = IdentityCheck.Run(key);
        Assert.Equal(CheckOutcome.Failed, result.Outcome);
        Assert.Contains("belongs to another user", result.Detail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("")]
    [InlineData("0x4c0883a6")]
    [InlineData("zz0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318")]
    [InlineData("0x0000000000000000000000000000000000000000000000000000000000000000")]
    public void Identity_malformed_truncated_or_invalid_key_fails_with_a_fix(string content)
    {
        CheckResult result = IdentityCheck.Run(Key(content: content));
        Assert.Equal(CheckOutcome.Failed, result.Outcome);
        Assert.Contains("infra init --keygen", result.Fix, StringComparison.Ordinal);
    }

    [Fact]
    public void Identity_oversized_or_missing_key_fails()
    {
        Assert.Contains("over 256 bytes", IdentityCheck.Run(Key(content: new string('a', 100_000))).Detail, StringComparison.Ordinal);
        CheckResult missing = IdentityCheck.Run(_dir["nowhere/identity.key"]);
        Assert.Equal(CheckOutcome.Failed, missing.Outcome);
        Assert.StartsWith("create one with `infra init --keygen", missing.Fix, StringComparison.Ordinal);
    }

    [Fact]
    public void Statx_layout_matches_the_c_header()
    {
        string probe = _dir["statx_probe"];
        FakeNvml.Gcc(["-Wall", "-Werror", "-o", probe, Path.Combine(ConfigurationRoot(), "tests", "fixtures", "doctor", "statx_probe.c")]);
        var start = new ProcessStartInfo(probe) { RedirectStandardOutput = true };
        using Process process = Process.Start(start)!;
        Dictionary<string, string> values = process.StandardOutput.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split(' ')).ToDictionary(p => p[0], p => p[1]);
        process.WaitForExit();
        Assert.Equal($"{Libc.StatxSize}", values["size"]);
        Assert.Equal($"{Libc.StatxUidOffset}", values["uid"]);
        Assert.Equal($"{Libc.StatxModeOffset}", values["mode"]);
        Assert.Equal($"{Libc.StatxTypeModeUid}", values["mask"]);
        Assert.Equal($"{Libc.AtFdCwd}", values["at_fdcwd"]);

        // And the call itself agrees with .NET's view of the mode and with geteuid for a file we made.
        string file = _dir.Write("f", "x");
        File.SetUnixFileMode(file, (UnixFileMode)Convert.ToInt32("640", 8));
        Assert.True(Libc.TryStat(file, out uint uid, out uint mode, out _));
        Assert.Equal(Libc.Geteuid(), uid);
        Assert.Equal(Libc.RegularFile | Convert.ToUInt32("640", 8), mode);
        Assert.False(Libc.TryStat(_dir["absent"], out _, out _, out int errno));
        Assert.Equal(2, errno); // ENOENT
    }

    // ---- cache disk ----------------------------------------------------------------------------------------------

    [Fact]
    public void Cache_disk_passes_warns_and_fails_by_free_space_against_what_the_budget_still_needs()
    {
        const long gib = 1L << 30;
        Assert.Equal(CheckOutcome.Ok, CacheDiskCheck.Judge("/c", free: 20 * gib, used: 0, budget: 10 * gib).Outcome);
        // What is already cached counts towards the budget: 4 GiB free + 7 GiB cached reaches 10 GiB.
        Assert.Equal(CheckOutcome.Ok, CacheDiskCheck.Judge("/c", free: 4 * gib, used: 7 * gib, budget: 10 * gib).Outcome);

        CheckResult warned = CacheDiskCheck.Judge("/c", free: 4 * gib, used: 1 * gib, budget: 10 * gib);
        Assert.Equal(CheckOutcome.Warning, warned.Outcome);
        Assert.Equal("/c: 4.0 GiB free, 1.0 GiB cached, budget 10Gi: the cache cannot grow to its budget (9.0 GiB more needed)", warned.Detail);
        Assert.Equal("free space on that filesystem, or lower cache.max_bytes to at most 5.0 GiB", warned.Fix);

        CheckResult failed = CacheDiskCheck.Judge("/c", free: 100 << 20, used: 0, budget: 10 * gib);
        Assert.Equal(CheckOutcome.Failed, failed.Outcome);
        Assert.Contains("100 MiB free", failed.Detail, StringComparison.Ordinal);
        Assert.Contains("too little for a model", failed.Detail, StringComparison.Ordinal);

        // A small budget on a small disk is fine: nothing more is needed.
        Assert.Equal(CheckOutcome.Ok, CacheDiskCheck.Judge("/c", free: 100 << 20, used: 0, budget: 50 << 20).Outcome);
    }

    [Fact]
    public void Cache_disk_reads_a_real_folder_and_counts_its_index()
    {
        string cache = _dir["cache"];
        _dir.Write("cache/index.json", "{\"version\":1,\"entries\":[{\"key\":\"sha256:aa\",\"bytes\":1048576},{\"key\":\"sha256:bb\",\"bytes\":2097152}]}");
        Assert.Equal((3L << 20, (string?)null), CacheDiskCheck.CachedBytes(cache));
        CheckResult ok = CacheDiskCheck.Run(cache, 1L << 20);
        Assert.Equal(CheckOutcome.Ok, ok.Outcome);
        Assert.Contains("3 MiB cached", ok.Detail, StringComparison.Ordinal);

        CheckResult huge = CacheDiskCheck.Run(_dir["not/yet/made"], long.MaxValue / 2);
        Assert.Equal(CheckOutcome.Warning, huge.Outcome); // no disk here has 4 EiB
        Assert.Contains("lower cache.max_bytes", huge.Fix, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{\"entries\":[{\"key\":\"a\",\"bytes\":-5}]}", "impossible sizes")]
    [InlineData("{\"entries\":[{\"key\":\"a\",\"bytes\":9223372036854775807},{\"key\":\"b\",\"bytes\":9223372036854775807}]}", "impossible sizes")]
    [InlineData("{\"entries\":[{\"key\":", "unreadable")]
    [InlineData("not json", "unreadable")]
    [InlineData("{\"entries\":[{\"key\":\"a\",\"bytes\":\"many\"}]}", "unreadable")]
    public void Cache_index_malformed_truncated_or_hostile_is_noted_and_not_counted(string index, string note)
    {
        _dir.Write("cache/index.json", index);
        (long used, string? why) = CacheDiskCheck.CachedBytes(_dir["cache"]);
        Assert.Equal(0, used);
        Assert.Contains(note, why, StringComparison.Ordinal);
    }

    [Fact]
    public void Cache_index_oversized_is_not_read()
    {
        Directory.CreateDirectory(_dir["cache-big"]);
        using (FileStream file = File.Create(_dir["cache-big/index.json"]))
            file.SetLength(CacheDiskCheck.MaxIndexBytes + 1L);
        (long used, string? why) = CacheDiskCheck.CachedBytes(_dir["cache-big"]);
        Assert.Equal(0, used);
        Assert.Contains("over 16 MiB", why, StringComparison.Ordinal);
    }

    // ---- engine and GPU runtime ----------------------------------------------------------------------------------

    private static InfoResponse Info(bool memory = true, bool swap = true, bool cpu = true, bool pids = true, params string[] runtimes) => new()
    {
        CgroupVersion = "2",
        CgroupDriver = "systemd",
        MemoryLimit = memory,
        SwapLimit = swap,
        CpuCfsQuota = cpu,
        PidsLimit = pids,
        Runtimes = runtimes.ToDictionary(r => r, r => new EngineRuntime { Path = r }),
    };

    [Fact]
    public void Engine_that_cannot_enforce_limits_fails_and_one_without_swap_limits_warns()
    {
        Assert.Equal("docker 27.0 (API 1.43) at /s, cgroup v2 (systemd), limits: memory, swap, cpu, pids", EngineCheck.Judge("docker 27.0 (API 1.43) at /s", Info()).Detail);

        CheckResult failed = EngineCheck.Judge("docker", Info(memory: false, pids: false));
        Assert.Equal(CheckOutcome.Failed, failed.Outcome);
        Assert.Contains("cannot enforce memory, pids limits", failed.Detail, StringComparison.Ordinal);
        Assert.NotNull(failed.Fix);

        CheckResult warned = EngineCheck.Judge("docker", Info(swap: false));
        Assert.Equal(CheckOutcome.Warning, warned.Outcome);
        Assert.Contains("swapaccount=1", warned.Fix, StringComparison.Ordinal);
    }

    private static readonly GpuInventory TwoGpus = new(GpuInventoryStatus.Ready, null, "550.54.15", "12.550.54.15",
        [new GpuInfo(0, "H100", "GPU-0", 80L << 30, 79L << 30, new ComputeCapability(9, 0)), new GpuInfo(1, "H100", "GPU-1", 80L << 30, 79L << 30, new ComputeCapability(9, 0))], []);

    [Fact]
    public void Gpu_runtime_is_skipped_without_gpus_and_warns_without_an_engine()
    {
        var noNvml = GpuInventory.Unavailable(GpuInventoryStatus.LibraryAbsent, "absent");
        Assert.Equal(CheckOutcome.Skipped, EngineCheck.GpuRuntime(noNvml, new EngineFacts(EngineKind.Docker, Info()), [], null).Outcome);
        Assert.Equal(CheckOutcome.Skipped, EngineCheck.GpuRuntime(TwoGpus with { Gpus = [] }, new EngineFacts(EngineKind.Docker, Info()), [], null).Outcome);
        Assert.Equal(CheckOutcome.Warning, EngineCheck.GpuRuntime(TwoGpus, new EngineFacts(null, null), [], null).Outcome);
    }

    [Fact]
    public void Gpu_runtime_passes_with_an_nvidia_runtime_the_hook_or_a_cdi_spec_and_fails_with_none()
    {
        string cdi = _dir["cdi"];
        Directory.CreateDirectory(cdi);
        CheckResult none = EngineCheck.GpuRuntime(TwoGpus, new EngineFacts(EngineKind.Docker, Info(runtimes: "runc")), [cdi], _dir["bin"]);
        Assert.Equal(CheckOutcome.Failed, none.Outcome);
        Assert.Contains("NVML lists 2 GPU(s), but docker has no nvidia runtime, no nvidia-container-runtime-hook on PATH and no NVIDIA CDI spec", none.Detail, StringComparison.Ordinal);
        Assert.Contains("nvidia-ctk runtime configure --runtime=docker", none.Fix, StringComparison.Ordinal);

        CheckResult runtime = EngineCheck.GpuRuntime(TwoGpus, new EngineFacts(EngineKind.Docker, Info(runtimes: ["runc", "nvidia"])), [cdi], null);
        Assert.Equal("docker can hand out GPUs: runtime nvidia", runtime.Detail);

        _dir.Write("bin/nvidia-container-runtime-hook", "#!/bin/sh\n");
        CheckResult hook = EngineCheck.GpuRuntime(TwoGpus, new EngineFacts(EngineKind.Docker, Info()), [cdi], "/nowhere:" + _dir["bin"]);
        Assert.Equal(CheckOutcome.Ok, hook.Outcome);
        Assert.Contains("hook ", hook.Detail, StringComparison.Ordinal);
        // Podman does not use Docker's hook: only CDI (or an nvidia runtime) counts there.
        CheckResult podman = EngineCheck.GpuRuntime(TwoGpus, new EngineFacts(EngineKind.Podman, Info()), [cdi], _dir["bin"]);
        Assert.Equal(CheckOutcome.Failed, podman.Outcome);
        Assert.Contains("nvidia-ctk cdi generate", podman.Fix, StringComparison.Ordinal);

        string spec = _dir.Write("cdi/nvidia.yaml", "cdiVersion: 0.5.0\nkind: nvidia.com/gpu\ndevices:\n- name: \"0\"\n");
        Assert.Equal($"podman can hand out GPUs: CDI spec {spec}", EngineCheck.GpuRuntime(TwoGpus, new EngineFacts(EngineKind.Podman, Info()), [cdi], null).Detail);
    }

    [Fact]
    public async Task Cdi_specs_that_are_unrelated_oversized_misnamed_or_fifos_are_passed_over_without_hanging()
    {
        string cdi = _dir["cdi2"];
        Directory.CreateDirectory(cdi);
        _dir.Write("cdi2/other.yaml", "cdiVersion: 0.5.0\nkind: vendor.com/fpga\n");
        _dir.Write("cdi2/nvidia.txt", "kind: nvidia.com/gpu\n"); // not a spec's extension
        using (var big = File.Create(Path.Combine(cdi, "big.json")))
        {
            big.Write(Encoding.ASCII.GetBytes("{\"kind\":\"nvidia.com/gpu\"}"));
            big.SetLength(EngineCheck.MaxCdiSpecBytes + 1L);
        }

        using (Process mkfifo = Process.Start("mkfifo", [Path.Combine(cdi, "fifo.json")])!)
        {
            await mkfifo.WaitForExitAsync();
            Assert.Equal(0, mkfifo.ExitCode);
        }

        var clock = Stopwatch.StartNew();
        Assert.Empty(EngineCheck.FindNvidiaCdiSpecs([cdi, _dir["missing"]]));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2), $"took {clock.Elapsed}");
    }

    [Fact]
    public void Gpu_runtime_against_the_fake_nvml_and_the_real_engines()
    {
        // NVML (the fake) lists two GPUs; neither engine on this machine has an NVIDIA runtime, so the check fails with
        // the toolkit fix, and passes once a CDI spec for nvidia.com/gpu is in a CDI folder.
        string library = FakeNvml.Build(_dir, FakeNvml.Set("GPUS", "2"));
        GpuInventory gpus = GpuProbe.Read(library);
        Assert.Equal(2, gpus.Gpus.Count);
        string cdi = _dir["cdi3"];
        Directory.CreateDirectory(cdi);
        foreach ((string engine, EngineKind kind) in new[] { ("docker", EngineKind.Docker), ("podman", EngineKind.Podman) })
        {
            var config = new NodeConfig(new HostPaths(_dir.Path, true));
            config.Runtime.Engine = kind == EngineKind.Docker ? EngineChoice.Docker : EngineChoice.Podman;
            (CheckResult line, EngineFacts facts) = EngineCheck.Run(config, new HostPaths(_dir.Path, true), TimeSpan.FromSeconds(10));
            Assert.True(line.Outcome == CheckOutcome.Ok, $"{engine}: {line.Detail}");
            Assert.StartsWith(engine + " ", line.Detail, StringComparison.Ordinal);
            CheckResult missing = EngineCheck.GpuRuntime(gpus, facts, [cdi], _dir["empty-path"]);
            Assert.Equal(CheckOutcome.Failed, missing.Outcome);
            Assert.StartsWith($"NVML lists 2 GPU(s), but {engine} has no nvidia runtime", missing.Detail, StringComparison.Ordinal);
        }

        _dir.Write("cdi3/nvidia.json", "{\"cdiVersion\":\"0.6.0\",\"kind\":\"nvidia.com/gpu\",\"devices\":[]}");
        var podman = new NodeConfig(new HostPaths(_dir.Path, true));
        podman.Runtime.Engine = EngineChoice.Podman;
        (_, EngineFacts podmanFacts) = EngineCheck.Run(podman, new HostPaths(_dir.Path, true), TimeSpan.FromSeconds(10));
        Assert.Equal(CheckOutcome.Ok, EngineCheck.GpuRuntime(gpus, podmanFacts, [cdi], null).Outcome);
    }

    // ---- guard, report -------------------------------------------------------------------------------------------

    [Fact]
    public async Task A_check_that_throws_becomes_its_own_failed_line()
    {
        CheckResult result = HostChecks.Guard("boom", () => throw new InvalidOperationException("unexpected"));
        Assert.Equal(CheckOutcome.Failed, result.Outcome);
        Assert.Equal("the check itself failed: InvalidOperationException: unexpected", result.Detail);
        CheckResult async = await HostChecks.GuardAsync("boom", () => throw new IOException("disk"));
        Assert.Equal(CheckOutcome.Failed, async.Outcome);
    }

    [Fact]
    public void RunAll_gives_every_check_a_line_even_when_nvml_stalls_or_throws()
    {
        var host = new HostPaths(_dir.Path, IsRoot: false);
        var config = new NodeConfig(host);
        var stalled = new DoctorEnvironment
        {
            Gpus = () =>
            {
                Thread.Sleep(TimeSpan.FromSeconds(5));
                return GpuInventory.Unavailable(GpuInventoryStatus.LibraryAbsent, "late");
            },
            NvmlTimeout = TimeSpan.FromMilliseconds(300),
        };
        var clock = Stopwatch.StartNew();
        IReadOnlyList<CheckResult> results = HostChecks.RunAll(config, host, stalled);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(4), $"took {clock.Elapsed}");
        Assert.Equal(["identity", "state dir", "cache disk", "cgroups", "engine", "gpu", "gpu runtime", "clock", "clock skew", "port", "control"], results.Select(r => r.Name));
        CheckResult gpu = results.Single(r => r.Name == "gpu");
        Assert.Equal(CheckOutcome.Warning, gpu.Outcome);
        Assert.StartsWith("NVML did not answer within 0.3 s", gpu.Detail, StringComparison.Ordinal);
        Assert.Equal(CheckOutcome.Warning, results.Single(r => r.Name == "gpu runtime").Outcome);

        IReadOnlyList<CheckResult> thrown = HostChecks.RunAll(config, host, new DoctorEnvironment { Gpus = () => throw new DllNotFoundException("broken loader") });
        Assert.Equal("the check itself failed: DllNotFoundException: broken loader", thrown.Single(r => r.Name == "gpu").Detail);
        Assert.Equal(11, thrown.Count);
    }

    [Fact]
    public void Report_prints_one_line_per_check_with_fixes_and_json_carries_the_same()
    {
        CheckResult[] results =
        [
            CheckResult.Ok("engine", "docker 20.10"),
            CheckResult.Failed("port", "0.0.0.0:9000 is in use", "set listener.port"),
            CheckResult.Warning("clock skew", "not measured", "check mesh.endpoints"),
            CheckResult.Skipped("gpu runtime", "no GPU"),
        ];
        var text = new StringWriter { NewLine = "\n" };
        DoctorCommand.Write(results, text);
        Assert.Equal(
            "ok    engine      docker 20.10\n" +
            "FAIL  port        0.0.0.0:9000 is in use\n" +
            "                  fix: set listener.port\n" +
            "warn  clock skew  not measured\n" +
            "                  fix: check mesh.endpoints\n" +
            "skip  gpu runtime no GPU\n" +
            "1 check(s) failed (1 warning(s))\n", text.ToString());

        using var json = System.Text.Json.JsonDocument.Parse(DoctorCommand.ToJson(results));
        Assert.Equal(1, json.RootElement.GetProperty("failed").GetInt32());
        System.Text.Json.JsonElement port = json.RootElement.GetProperty("checks")[1];
        Assert.Equal("failed", port.GetProperty("outcome").GetString());
        Assert.Equal("set listener.port", port.GetProperty("fix").GetString());
        Assert.False(json.RootElement.GetProperty("checks")[0].TryGetProperty("fix", out _));
    }

    private static void Chown(string path, int uid)
    {
        using Process process = Process.Start("chown", [$"{uid}", path])!;
        process.WaitForExit();
        Assert.Equal(0, process.ExitCode);
    }

    private static string ConfigurationRoot() => Configuration.ConfigLoaderTests.RepoRoot();
}
