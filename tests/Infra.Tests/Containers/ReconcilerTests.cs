using InfraMind.Node.Containers;
using InfraMind.Node.Containers.Engine;
using InfraMind.Node.Containers.Sandbox;
using InfraMind.Node.Crypto;
using InfraMind.Node.Tests.Support;

namespace InfraMind.Node.Tests.Containers;

public class ReconcilerTests
{
    [Theory]
    [MemberData(nameof(Engines.Both), MemberType = typeof(Engines))]
    public async Task The_sweep_keeps_live_jobs_and_removes_the_rest_of_this_nodes_containers(string engine)
    {
        await using EngineClient client = await Engines.ConnectAsync(engine);
        Address node = Address.Read(Guid.NewGuid().ToByteArray().Concat(new byte[4]).ToArray());
        string live = $"live-{Guid.NewGuid():N}", dead = $"dead-{Guid.NewGuid():N}";
        string liveId = await CreateAsync(client, live, node);
        string deadId = await CreateAsync(client, dead, node);
        try
        {
            var reconciler = new Reconciler(client, node);
            IReadOnlyList<string> removed = await reconciler.SweepAsync(new HashSet<string> { live }, CancellationToken.None);
            Assert.Equal([deadId], removed);
            Assert.Single(await client.ListContainersAsync(SandboxSpec.JobLabel, live, CancellationToken.None));

            // The periodic sweep: once the job is no longer live, its container goes on the next tick.
            using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            Task sweeping = reconciler.RunPeriodicallyAsync(() => new HashSet<string>(), TimeSpan.FromMilliseconds(200), null, stop.Token);
            while (!stop.IsCancellationRequested && (await client.ListContainersAsync(SandboxSpec.NodeLabel, node.ToString(), CancellationToken.None)).Count > 0)
                await Task.Delay(100);
            await stop.CancelAsync();
            await sweeping;
            Assert.Empty(await client.ListContainersAsync(SandboxSpec.NodeLabel, node.ToString(), CancellationToken.None));
        }
        finally
        {
            await client.RemoveContainerAsync(liveId, CancellationToken.None);
            await client.RemoveContainerAsync(deadId, CancellationToken.None);
        }
    }

    private static async Task<string> CreateAsync(EngineClient client, string job, Address node)
    {
        var spec = new SandboxSpec(Engines.ProbeImage, job, node, ResourceRequest.Default) { Command = ["sleep", "30"] };
        ContainerCreateRequest request = spec.ToCreateRequest(stdin: false);
        return await client.CreateContainerAsync(spec.ContainerName(request), request, CancellationToken.None);
    }
}
