using InfraMind.Node.Containers.Sandbox;
using InfraMind.Node.Jobs.Admission;

namespace InfraMind.Node.Tests.Jobs;

public sealed class ResourceGateTests
{
    private static ResourceRequest Cpu(long millicores, long mib = 64) => new(mib << 20, millicores);

    [Fact]
    public async Task Concurrency_is_bounded_by_declared_cpu_not_by_a_count()
    {
        var gate = new ResourceGate(2000, 4L << 30, 0);
        ResourceLease a = await gate.AcquireAsync(Cpu(500), default);
        ResourceLease b = await gate.AcquireAsync(Cpu(500), default);
        ResourceLease c = await gate.AcquireAsync(Cpu(1000), default);
        ValueTask<ResourceLease> d = gate.AcquireAsync(Cpu(250), default);
        Assert.False(d.IsCompleted);
        a.Dispose();
        (await d).Dispose();
        b.Dispose();
        c.Dispose();
    }

    [Fact]
    public async Task Memory_bounds_too_and_waiters_are_served_in_order()
    {
        var gate = new ResourceGate(64_000, 1L << 30, 0);
        ResourceLease big = await gate.AcquireAsync(Cpu(100, 768), default);
        ValueTask<ResourceLease> second = gate.AcquireAsync(Cpu(100, 512), default);
        ValueTask<ResourceLease> third = gate.AcquireAsync(Cpu(100, 64), default);
        Assert.False(second.IsCompleted);
        Assert.False(third.IsCompleted); // it would fit, but it came after a job that waits
        big.Dispose();
        ResourceLease s = await second;
        ResourceLease t = await third;
        Assert.Equal(0, gate.Waiting);
        s.Dispose();
        t.Dispose();
    }

    [Fact]
    public async Task A_cancelled_waiter_leaves_the_line_and_lets_the_next_in()
    {
        var gate = new ResourceGate(1000, 1L << 30, 0);
        ResourceLease all = await gate.AcquireAsync(Cpu(1000), default);
        using var cts = new CancellationTokenSource();
        ValueTask<ResourceLease> cancelled = gate.AcquireAsync(Cpu(1000), cts.Token);
        ValueTask<ResourceLease> next = gate.AcquireAsync(Cpu(500), default);
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await cancelled);
        all.Dispose();
        (await next).Dispose();
    }

    [Fact]
    public async Task Gpus_are_assigned_one_per_job()
    {
        var gate = new ResourceGate(8000, 8L << 30, 2);
        ResourceLease a = await gate.AcquireAsync(new ResourceRequest(1 << 20, 100, Gpu: true), default);
        ResourceLease b = await gate.AcquireAsync(new ResourceRequest(1 << 20, 100, Gpu: true), default);
        Assert.NotEqual(a.GpuIndex, b.GpuIndex);
        ValueTask<ResourceLease> c = gate.AcquireAsync(new ResourceRequest(1 << 20, 100, Gpu: true), default);
        Assert.False(c.IsCompleted);
        int freed = a.GpuIndex;
        a.Dispose();
        ResourceLease cl = await c;
        Assert.Equal(freed, cl.GpuIndex);
        b.Dispose();
        cl.Dispose();
    }

    [Fact]
    public void A_request_larger_than_the_host_can_never_fit()
    {
        var gate = new ResourceGate(1000, 1L << 30, 0);
        Assert.False(gate.CouldEverFit(Cpu(2000), out string reason));
        Assert.Contains("2000m", reason, StringComparison.Ordinal);
        Assert.False(gate.CouldEverFit(new ResourceRequest(1 << 20, 10, Gpu: true), out reason));
        Assert.Contains("GPU", reason, StringComparison.Ordinal);
    }
}
