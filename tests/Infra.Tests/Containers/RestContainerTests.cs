using System.Text;
using InfraMind.Node.Containers.Engine;
using InfraMind.Node.Containers.Runs;
using InfraMind.Node.Containers.Sandbox;
using InfraMind.Node.Hardware;
using InfraMind.Node.Tests.Support;

namespace InfraMind.Node.Tests.Containers;

/// <summary>A rest model reached through its own loopback while it has no network, on both engines.</summary>
public class RestContainerTests
{
    [Theory]
    [MemberData(nameof(Engines.Both), MemberType = typeof(Engines))]
    public async Task A_rest_model_answers_on_its_own_loopback_and_has_no_other_network(string engine)
    {
        await using EngineClient client = await Engines.ConnectAsync(engine);
        var spec = new SandboxSpec(Engines.ProbeImage, $"rest-{Guid.NewGuid():N}", EngineClientTests.TestNode, ResourceRequest.Default) { Command = ["serve", "9000"] };
        await using RestContainer model = await RestContainer.StartAsync(new SandboxLauncher(client), spec, 9000, TimeSpan.FromSeconds(20), CancellationToken.None);
        Assert.NotNull(model.Cgroup);
        Assert.StartsWith("sha256:", model.ImageId, StringComparison.Ordinal);

        byte[] output = await model.InferAsync("\"hello\""u8.ToArray(), CancellationToken.None);
        Assert.Equal("{\"input\":\"hello\"}", Encoding.UTF8.GetString(output));

        // The same warm container and connection serve request after request.
        for (int i = 0; i < 20; i++)
        {
            byte[] again = await model.InferAsync(Encoding.UTF8.GetBytes($"[{i}]"), CancellationToken.None);
            Assert.Equal($"{{\"input\":[{i}]}}", Encoding.UTF8.GetString(again));
        }

        // Seen from inside the serving container: loopback only, and the outside is unreachable.
        HostConfig host = (await client.InspectContainerAsync(model.Id, CancellationToken.None)).HostConfig!;
        Assert.Equal("none", host.NetworkMode);
        string net = await InsideAsync(model);
        Assert.Contains("interfaces: lo;", net, StringComparison.Ordinal);
        Assert.Contains("connect: Network is unreachable", net, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Engines.Both), MemberType = typeof(Engines))]
    public async Task A_warm_model_reads_its_usage_through_files_held_open_for_its_life(string engine)
    {
        await using EngineClient client = await Engines.ConnectAsync(engine);
        var spec = new SandboxSpec(Engines.ProbeImage, $"rest-usage-{Guid.NewGuid():N}", EngineClientTests.TestNode, ResourceRequest.Default) { Command = ["serve", "9000"] };
        RestContainer model = await RestContainer.StartAsync(new SandboxLauncher(client), spec, 9000, TimeSpan.FromSeconds(20), CancellationToken.None);
        try
        {
            Assert.True(model.HoldsUsageFiles);
            long before = model.ReadCpuMicros()!.Value;
            for (int i = 0; i < 50; i++)
                await model.InferAsync(Encoding.UTF8.GetBytes($"[{i}]"), CancellationToken.None);

            // The held files give the same figures as reading the cgroup by path: CPU between two path reads, the
            // same peak (nothing runs in between that could raise it) and the same OOM count.
            CgroupUsage byPathBefore = model.Cgroup!.ReadUsage();
            CgroupUsage held = model.ReadUsage()!;
            CgroupUsage byPathAfter = model.Cgroup.ReadUsage();
            Assert.InRange(held.CpuMicros, byPathBefore.CpuMicros, byPathAfter.CpuMicros);
            Assert.True(held.CpuMicros > before, $"CPU {before} µs before 50 requests, {held.CpuMicros} µs after");
            Assert.Equal(byPathAfter.PeakMemoryBytes, held.PeakMemoryBytes);
            Assert.True(held.PeakMemoryBytes > 0);
            Assert.Equal(byPathAfter.OomKills, held.OomKills);
            Assert.Equal(byPathAfter.OomKillsCounted, held.OomKillsCounted);

            // Removed behind the node's back, the cgroup's files fail to read instead of giving stale figures.
            await client.RemoveContainerAsync(model.Id, CancellationToken.None);
            await Assert.ThrowsAnyAsync<IOException>(async () =>
            {
                // The engine removes the cgroup just after the container; give it a moment.
                for (int i = 0; i < 100; i++)
                {
                    model.ReadCpuMicros();
                    await Task.Delay(50);
                }
            });
        }
        finally
        {
            await model.DisposeAsync();
        }

        Assert.Throws<ObjectDisposedException>(() => model.ReadUsage());
    }

    [Theory]
    [MemberData(nameof(Engines.Both), MemberType = typeof(Engines))]
    public async Task A_model_that_never_listens_is_reported_and_removed(string engine)
    {
        await using EngineClient client = await Engines.ConnectAsync(engine);
        string job = $"rest-dead-{Guid.NewGuid():N}";
        var spec = new SandboxSpec(Engines.ProbeImage, job, EngineClientTests.TestNode, ResourceRequest.Default) { Command = ["sleep", "30"] };
        var error = await Assert.ThrowsAsync<SandboxException>(() => RestContainer.StartAsync(new SandboxLauncher(client), spec, 9000, TimeSpan.FromSeconds(2), CancellationToken.None));
        Assert.Equal(RunFailure.Deadline, error.Failure);
        Assert.Empty(await client.ListContainersAsync(SandboxSpec.JobLabel, job, CancellationToken.None));
    }

    [Theory]
    [InlineData("{\"output\": [0.1, 0.2]}", "[0.1, 0.2]")]
    [InlineData("{\"result\": \"text\"}", "\"text\"")]
    [InlineData("{\"result\": 1, \"output\": {\"a\": [1]}}", "{\"a\": [1]}")]
    [InlineData("{\"other\": 1, \"output\": null}", "null")]
    public void The_output_member_is_sliced_out_as_raw_json(string answer, string expected)
    {
        Assert.True(ModelOutput.TryExtract(Encoding.UTF8.GetBytes(answer), out ReadOnlySpan<byte> output));
        Assert.Equal(expected, Encoding.UTF8.GetString(output));
    }

    [Theory]
    [InlineData("")]
    [InlineData("[1]")]
    [InlineData("{\"nothing\": 1}")]
    [InlineData("{\"output\": [1, 2}")]
    [InlineData("{\"output\": 1} trailing")]
    [InlineData("{\"output\": 1")]
    public void Answers_without_an_output_are_refused(string answer)
    {
        Assert.False(ModelOutput.TryExtract(Encoding.UTF8.GetBytes(answer), out _));
    }

    [Fact]
    public void Deeply_nested_answers_are_refused_not_crashed_on()
    {
        string deep = "{\"output\": " + new string('[', 10_000) + new string(']', 10_000) + "}";
        Assert.False(ModelOutput.TryExtract(Encoding.UTF8.GetBytes(deep), out _));
    }

    // POST /net is the probe's own route: it runs the network check inside the serving container.
    private static async Task<string> InsideAsync(RestContainer model) =>
        Encoding.UTF8.GetString(await model.PostInputAsync("/net", "null"u8.ToArray(), CancellationToken.None));
}
