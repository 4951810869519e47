using InfraMind.Node.Containers.Engine;
using InfraMind.Node.Containers.Runs;
using InfraMind.Node.Containers.Sandbox;
using InfraMind.Node.Hardware;
using InfraMind.Node.Tests.Support;

namespace InfraMind.Node.Tests.Containers;

public class SandboxSpecTests
{
    private static readonly SandboxSpec Spec = new("model:1", "a6b4-23fa", EngineClientTests.TestNode, new ResourceRequest(2L << 30, 2000));

    [Fact]
    public void The_create_request_is_the_contracts_sandbox()
    {
        ContainerCreateRequest request = Spec.ToCreateRequest(stdin: true);
        HostConfig host = request.HostConfig!;
        Assert.Equal("none", host.NetworkMode);
        Assert.True(request.NetworkDisabled);
        Assert.Equal(["ALL"], host.CapDrop);
        Assert.Equal(["no-new-privileges"], host.SecurityOpt);
        Assert.True(host.ReadonlyRootfs);
        Assert.Equal("rw,nosuid,nodev,size=67108864", host.Tmpfs!["/tmp"]);
        Assert.Equal(256, host.PidsLimit);
        Assert.Equal(2L << 30, host.Memory);
        Assert.Equal(host.Memory, host.MemorySwap);
        Assert.Equal(2_000_000_000, host.NanoCpus);
        Assert.Contains(host.Ulimits!, u => u.Name == "nofile" && u.Soft == 1024 && u.Hard == 1024);
        Assert.False(host.Privileged);
        Assert.Null(host.DeviceRequests);
        Assert.Equal("a6b4-23fa", request.Labels![SandboxSpec.JobLabel]);
        Assert.Equal("0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf", request.Labels[SandboxSpec.NodeLabel]);
        Assert.True(request.OpenStdin && request.StdinOnce && request.AttachStdin);
        Assert.False(request.Tty);
    }

    [Fact]
    public void The_name_is_deterministic_from_job_and_spec()
    {
        string first = Spec.ContainerName(Spec.ToCreateRequest(stdin: true));
        string again = Spec.ContainerName(Spec.ToCreateRequest(stdin: true));
        string otherSpec = Spec.ContainerName((Spec with { PidsLimit = 128 }).ToCreateRequest(stdin: true));
        Assert.Equal(first, again);
        Assert.NotEqual(first, otherSpec);
        Assert.Matches("^inframind-a6b4-23fa-[0-9a-f]{12}$", first);

        var hostile = Spec with { JobId = "../../etc/passwd; rm -rf / " + new string('x', 100) };
        Assert.Matches("^inframind-[A-Za-z0-9_.-]{1,40}-[0-9a-f]{12}$", hostile.ContainerName(hostile.ToCreateRequest(stdin: true)));
    }

    [Fact]
    public void A_gpu_goes_only_to_the_job_that_asked_and_only_the_assigned_one()
    {
        var gpu = Spec with { Resources = Spec.Resources with { Gpu = true }, GpuUuid = "GPU-1234" };
        DeviceRequest request = Assert.Single(gpu.ToCreateRequest(stdin: false).HostConfig!.DeviceRequests!);
        Assert.Equal(["GPU-1234"], request.DeviceIDs);
        Assert.Equal("nvidia", request.Driver);
        Assert.Throws<InvalidOperationException>(() => (Spec with { Resources = Spec.Resources with { Gpu = true } }).ToCreateRequest(stdin: false));
    }

    [Fact]
    public void Expected_limits_are_what_the_engine_should_write_to_the_cgroup()
    {
        CgroupLimits expected = Spec.ExpectedLimits;
        Assert.Equal(2L << 30, expected.MemoryBytes);
        Assert.Equal(2L << 30, expected.MemoryAndSwapBytes);
        Assert.Equal(200_000, expected.CpuQuotaMicros);
        Assert.Equal(100_000, expected.CpuPeriodMicros);
        Assert.Equal(2000, expected.CpuMillicores);
        Assert.Equal(256, expected.Pids);
    }

    /// <summary>A v1 cgroup tree as Docker's cgroupfs driver writes it, with the pids limit tampered with.</summary>
    [Fact]
    public void A_container_whose_cgroup_was_tampered_with_is_refused()
    {
        using var temp = new TempFolder();
        const string path = "/docker/abc123";
        temp.Write("proc/77/cgroup", $"12:pids:{path}\n8:memory:{path}\n4:cpu,cpuacct:{path}\n0::/\n");
        temp.Write($"cgroup/memory{path}/memory.limit_in_bytes", $"{2L << 30}\n");
        temp.Write($"cgroup/memory{path}/memory.memsw.limit_in_bytes", $"{2L << 30}\n");
        temp.Write($"cgroup/cpu,cpuacct{path}/cpu.cfs_quota_us", "200000\n");
        temp.Write($"cgroup/cpu,cpuacct{path}/cpu.cfs_period_us", "100000\n");
        temp.Write($"cgroup/pids{path}/pids.max", "256\n");

        CgroupLimits honest = ContainerCgroup.Locate(77, temp["proc"], temp["cgroup"]).ReadLimits();
        Assert.True(SandboxVerifier.Check("abc123", honest, Spec.ExpectedLimits));

        temp.Write($"cgroup/pids{path}/pids.max", "max\n");
        temp.Write($"cgroup/cpu,cpuacct{path}/cpu.cfs_quota_us", "-1\n");
        CgroupLimits tampered = ContainerCgroup.Locate(77, temp["proc"], temp["cgroup"]).ReadLimits();
        var refused = Assert.Throws<SandboxException>(() => SandboxVerifier.Check("abc123", tampered, Spec.ExpectedLimits));
        Assert.Equal(RunFailure.LimitsNotInForce, refused.Failure);
        Assert.Contains("process limit in force is unlimited, but 256 pids was asked", refused.Message, StringComparison.Ordinal);
        Assert.Contains("CPU quota in force is unlimited", refused.Message, StringComparison.Ordinal);
    }
}
