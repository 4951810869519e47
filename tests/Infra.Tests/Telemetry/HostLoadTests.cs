using InfraMind.Node.Telemetry;
using InfraMind.Node.Tests.Support;
using Xunit.Abstractions;

namespace InfraMind.Node.Tests.Telemetry;

/// <summary>
/// <see cref="HostLoad"/> against fixture trees: a v1 container (Docker cgroupfs), a v2 one (systemd scope), an
/// unconfined process, and broken files of each kind; then the real host.
/// </summary>
public sealed class HostLoadTests : IDisposable
{
    private const int Pid = 4242;
    private const string DockerV1 = "/docker/3f1c0e5d9a7b";
    private const string Scope = "/system.slice/infra.scope";
    private const long MiB = 1024 * 1024;

    private readonly TempFolder _dir = new();
    private readonly FakeTime _time = new(new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero));
    private readonly ITestOutputHelper _output;

    public HostLoadTests(ITestOutputHelper output)
    {
        _output = output;
    }

    public void Dispose() => _dir.Dispose();

    private HostLoad Load() => new(_dir["proc"], _dir["cgroup"], Pid, _time);

    private void Proc(string relative, string text) => _dir.Write("proc/" + relative, text);

    private void Cgroup(string relative, string text) => _dir.Write("cgroup/" + relative.TrimStart('/'), text);

    // user nice system idle iowait irq softirq steal guest guest_nice; two CPUs.
    private void ProcStat(long busy, long idle, long iowait = 0) =>
        Proc("stat", $"cpu  {busy} 0 0 {idle} {iowait} 0 0 0 50 0\ncpu0 1 0 0 1 0 0 0 0 0 0\ncpu1 1 0 0 1 0 0 0 0 0 0\nintr 12345 1 2 3\nctxt 999\n");

    private void Meminfo(long totalKb = 8 * 1024 * 1024, long availableKb = 6 * 1024 * 1024) =>
        Proc("meminfo", $"MemTotal:       {totalKb} kB\nMemFree:         1000 kB\nMemAvailable:   {availableKb} kB\nBuffers:          100 kB\n");

    private void V1Container(string quota = "50000", string memoryLimit = "536870912")
    {
        Proc($"{Pid}/cgroup", $"12:pids:{DockerV1}\n11:memory:{DockerV1}\n4:cpu,cpuacct:{DockerV1}\n0::/\n");
        Cgroup($"memory{DockerV1}/memory.limit_in_bytes", memoryLimit + "\n");
        Cgroup($"memory{DockerV1}/memory.usage_in_bytes", $"{300 * MiB}\n");
        Cgroup($"memory{DockerV1}/memory.stat", $"cache 1000\nrss 2000\ntotal_inactive_file {44 * MiB}\n");
        Cgroup($"cpu,cpuacct{DockerV1}/cpu.cfs_quota_us", quota + "\n");
        Cgroup($"cpu,cpuacct{DockerV1}/cpu.cfs_period_us", "100000\n");
        Cgroup($"cpu,cpuacct{DockerV1}/cpuacct.usage", "1000000000\n");
        Cgroup($"pids{DockerV1}/pids.max", "max\n");
    }

    private void V2Scope(string cpuMax = "150000 100000", string memoryMax = "1073741824")
    {
        Proc($"{Pid}/cgroup", $"0::{Scope}\n");
        Cgroup($"{Scope}/cgroup.controllers", "cpuset cpu io memory pids\n");
        Cgroup($"{Scope}/cpu.max", cpuMax + "\n");
        Cgroup($"{Scope}/memory.max", memoryMax + "\n");
        Cgroup($"{Scope}/memory.swap.max", "0\n");
        Cgroup($"{Scope}/pids.max", "100\n");
        Cgroup($"{Scope}/cpu.stat", "usage_usec 5000000\nuser_usec 4000000\nsystem_usec 1000000\n");
        Cgroup($"{Scope}/memory.current", $"{600 * MiB}\n");
        Cgroup($"{Scope}/memory.stat", $"anon 1000\nfile 2000\ninactive_file {88 * MiB}\nactive_file 5\n");
    }

    [Fact]
    public void Unconfined_uses_host_cpu_deltas_and_meminfo()
    {
        ProcStat(busy: 1000, idle: 9000);
        Meminfo();
        HostLoad load = Load();

        HostLoadSample first = load.Sample();
        Assert.Null(first.CpuUtilization); // a rate needs two samples
        Assert.Equal(LoadSource.Unknown, first.CpuSource);
        Assert.Equal(0.25, first.MemoryUtilization);
        Assert.Equal(LoadSource.Host, first.MemorySource);

        ProcStat(busy: 1300, idle: 9500, iowait: 200); // +300 busy of +1000 total
        HostLoadSample second = load.Sample();
        Assert.Equal(0.3, second.CpuUtilization!.Value, 9);
        Assert.Equal(LoadSource.Host, second.CpuSource);
    }

    [Fact]
    public void Confined_v1_is_relative_to_quota_and_memory_limit()
    {
        ProcStat(1000, 9000);
        Meminfo();
        V1Container(quota: "50000"); // half a CPU, 512 MiB
        HostLoad load = Load();

        HostLoadSample first = load.Sample();
        Assert.Null(first.CpuUtilization);
        Assert.Equal(0.5, first.MemoryUtilization); // (300 - 44) MiB working set of 512 MiB
        Assert.Equal(LoadSource.Cgroup, first.MemorySource);

        _time.Advance(TimeSpan.FromSeconds(2));
        Cgroup($"cpu,cpuacct{DockerV1}/cpuacct.usage", "1250000000\n"); // +0.25 s of CPU in 2 s on a 0.5 CPU quota
        HostLoadSample second = load.Sample();
        Assert.Equal(0.25, second.CpuUtilization!.Value, 9);
        Assert.Equal(LoadSource.Cgroup, second.CpuSource);
    }

    [Fact]
    public void Confined_v2_is_relative_to_cpu_max_and_memory_max()
    {
        ProcStat(1000, 9000);
        Meminfo();
        V2Scope(cpuMax: "150000 100000", memoryMax: $"{1024 * MiB}");
        HostLoad load = Load();
        Assert.Equal(0.5, load.Sample().MemoryUtilization); // (600 - 88) MiB of 1 GiB

        _time.Advance(TimeSpan.FromSeconds(1));
        Cgroup($"{Scope}/cpu.stat", "usage_usec 6200000\nuser_usec 5000000\nsystem_usec 1200000\n"); // +1.2 s in 1 s of 1.5 CPUs
        HostLoadSample s = load.Sample();
        Assert.Equal(0.8, s.CpuUtilization!.Value, 9);
        Assert.Equal(LoadSource.Cgroup, s.CpuSource);
        Assert.Equal(LoadSource.Cgroup, s.MemorySource);
    }

    [Fact]
    public void Limits_above_the_host_are_capped_at_the_host()
    {
        ProcStat(1000, 9000); // two CPUs
        Meminfo(totalKb: 1024 * 1024, availableKb: 512 * 1024); // 1 GiB host
        V2Scope(cpuMax: "800000 100000", memoryMax: $"{64 * 1024 * MiB}");
        HostLoad load = Load();
        Assert.Equal(0.5, load.Sample().MemoryUtilization); // 512 MiB of the host's 1 GiB, not of 64 GiB

        _time.Advance(TimeSpan.FromSeconds(1));
        Cgroup($"{Scope}/cpu.stat", "usage_usec 6000000\n"); // 1 CPU-second in 1 s: half of two CPUs, not an eighth of 8
        Assert.Equal(0.5, load.Sample().CpuUtilization!.Value, 9);
    }

    [Fact]
    public void A_cgroup_without_limits_falls_back_to_the_host_figures()
    {
        ProcStat(1000, 9000);
        Meminfo();
        V2Scope(cpuMax: "max 100000", memoryMax: "max");
        HostLoad load = Load();
        HostLoadSample first = load.Sample();
        Assert.Equal(LoadSource.Host, first.MemorySource);
        Assert.Equal(0.25, first.MemoryUtilization);
        ProcStat(1100, 9900);
        Assert.Equal(LoadSource.Host, load.Sample().CpuSource);
    }

    [Fact]
    public void Usage_over_the_limit_is_clamped_to_one()
    {
        ProcStat(1000, 9000);
        Meminfo();
        V1Container(memoryLimit: $"{100 * MiB}");
        Assert.Equal(1.0, Load().Sample().MemoryUtilization);
    }

    [Fact]
    public void A_cgroup_counter_that_goes_backwards_gives_unknown_cpu_once()
    {
        ProcStat(1000, 9000);
        Meminfo();
        V1Container();
        HostLoad load = Load();
        load.Sample();
        _time.Advance(TimeSpan.FromSeconds(1));
        Cgroup($"cpu,cpuacct{DockerV1}/cpuacct.usage", "10\n"); // reset (the cgroup was recreated)
        Assert.Null(load.Sample().CpuUtilization);
        _time.Advance(TimeSpan.FromSeconds(1));
        Cgroup($"cpu,cpuacct{DockerV1}/cpuacct.usage", "250000010\n");
        Assert.Equal(0.5, load.Sample().CpuUtilization!.Value, 9);
    }

    [Theory]
    [InlineData("memory.max", "lots")]
    [InlineData("memory.max", "-1")]
    [InlineData("cpu.max", "50000")]
    [InlineData("cpu.max", "0 100000")]
    [InlineData("pids.max", "\0\0\0")]
    public void Garbage_in_a_limit_file_makes_both_figures_unknown(string file, string content)
    {
        ProcStat(1000, 9000);
        Meminfo();
        V2Scope();
        Cgroup($"{Scope}/{file}", content);
        HostLoad load = Load();
        load.Sample();
        ProcStat(1100, 9900);
        HostLoadSample s = load.Sample();
        // The limits cannot be known, so neither can the share of them in use; the host figure would mislead.
        Assert.Equal(LoadSource.Unknown, s.CpuSource);
        Assert.Equal(LoadSource.Unknown, s.MemorySource);
        Assert.Null(s.CpuUtilization);
        Assert.Null(s.MemoryUtilization);
    }

    [Theory]
    [InlineData("cpu.stat", "usage_usec lots\n", true)]
    [InlineData("cpu.stat", "usage_usec 1\nusage_usec 2\n", true)]
    [InlineData("memory.current", "12 34\n", false)]
    [InlineData("memory.stat", "inactive_file\n", false)]
    public void Garbage_in_a_usage_file_makes_only_that_figure_unknown(string file, string content, bool cpuBroken)
    {
        ProcStat(1000, 9000);
        Meminfo();
        V2Scope();
        HostLoad load = Load();
        load.Sample();
        Cgroup($"{Scope}/{file}", content);
        _time.Advance(TimeSpan.FromSeconds(1));
        HostLoadSample s = load.Sample();
        Assert.Equal(cpuBroken, s.CpuUtilization is null);
        Assert.Equal(cpuBroken, s.MemoryUtilization is not null);
    }

    [Theory]
    [InlineData("0::/../../etc\n")]
    [InlineData("garbage")]
    [InlineData("4:memory\n")]
    [InlineData("0::/missing.scope\n")]
    public void A_hostile_or_dangling_proc_cgroup_file_gives_unknown(string content)
    {
        ProcStat(1000, 9000);
        Meminfo();
        Proc($"{Pid}/cgroup", content);
        HostLoadSample s = Load().Sample();
        Assert.Equal(LoadSource.Unknown, s.MemorySource);
        Assert.Null(s.MemoryUtilization);
    }

    [Theory]
    [InlineData("cpu 1 2 3\ncpu0 1 1 1 1\n")] // fewer than four fields
    [InlineData("cpu  a b c d\ncpu0 1 1 1 1\n")]
    [InlineData("cpu  1 0 0 1 0 0 0 0\n")] // no per-CPU lines
    [InlineData("cpu  1 0 0 1\ncpu  1 0 0 1\ncpu0 1 0 0 1\n")] // aggregate twice
    [InlineData("cpu  99999999999999999999 0 0 1\ncpu0 1 0 0 1\n")]
    [InlineData("")]
    [InlineData("cpu  100 0 0 900")] // cut off before its newline
    public void Hostile_proc_stat_gives_unknown_host_cpu(string content)
    {
        Meminfo();
        Proc("stat", content);
        HostLoad load = Load();
        load.Sample();
        HostLoadSample s = load.Sample();
        Assert.Null(s.CpuUtilization);
        Assert.Equal(0.25, s.MemoryUtilization); // meminfo still counts
    }

    [Theory]
    [InlineData("MemTotal:       8000 kB\nMemFree:        100 kB\n")] // before Linux 3.14: no MemAvailable
    [InlineData("MemTotal:       0 kB\nMemAvailable:   0 kB\n")]
    [InlineData("MemTotal: 8000 kB\nMemAvailable: -1 kB\n")]
    [InlineData("\xff\xfe\0")]
    public void Hostile_meminfo_gives_unknown_host_memory(string content)
    {
        ProcStat(1000, 9000);
        Proc("meminfo", content);
        HostLoadSample s = Load().Sample();
        Assert.Null(s.MemoryUtilization);
        Assert.Equal(LoadSource.Unknown, s.MemorySource);
    }

    [Fact]
    public void The_sampler_publishes_the_last_sample()
    {
        ProcStat(1000, 9000);
        Meminfo();
        var sampler = new TelemetrySampler(Load(), new ProcessStats(_dir["proc"]), TimeSpan.FromSeconds(1), _time);
        Assert.Same(HostLoadSample.Unknown, sampler.LatestHost);
        Assert.Null(sampler.LatestProcess);
        sampler.SampleNow();
        Assert.Equal(0.25, sampler.LatestHost.MemoryUtilization);
        Assert.NotNull(sampler.LatestProcess);
        Assert.Null(sampler.LatestProcess.Value.ResidentBytes); // the fixture has no status file
    }

    [Fact]
    public async Task The_sampler_runs_until_cancelled()
    {
        var sampler = new TelemetrySampler(new HostLoad(), new ProcessStats(), TimeSpan.FromMilliseconds(20));
        using var cts = new CancellationTokenSource();
        Task run = sampler.RunAsync(cts.Token);
        DateTime deadline = DateTime.UtcNow.AddSeconds(10);
        while (sampler.LatestHost.CpuUtilization is null && DateTime.UtcNow < deadline)
            await Task.Delay(10);
        await cts.CancelAsync();
        await run.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.NotNull(sampler.LatestHost.CpuUtilization); // the second tick gave a rate
    }

    [Fact]
    public void Reads_the_real_host()
    {
        var load = new HostLoad();
        load.Sample();
        Thread.Sleep(200);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        HostLoadSample s = load.Sample();
        _output.WriteLine($"{s} in {clock.Elapsed.TotalMicroseconds:F0} us");
        Assert.InRange(s.CpuUtilization!.Value, 0, 1);
        Assert.InRange(s.MemoryUtilization!.Value, 0, 1);
        Assert.NotEqual(LoadSource.Unknown, s.CpuSource);
        Assert.NotEqual(LoadSource.Unknown, s.MemorySource);
    }
}
