using System.Text;
using InfraMind.Node.Containers.Engine;
using InfraMind.Node.Containers.Sandbox;
using InfraMind.Node.Crypto;
using InfraMind.Node.Tests.Support;

namespace InfraMind.Node.Tests.Containers;

/// <summary>The engine client against the real Docker and Podman engines.</summary>
public class EngineClientTests
{
    [Theory]
    [MemberData(nameof(Engines.Both), MemberType = typeof(Engines))]
    public async Task It_negotiates_the_api_and_knows_which_engine_answers(string engine)
    {
        await using EngineClient client = await Engines.ConnectAsync(engine);
        await client.PingAsync(CancellationToken.None);
        Assert.Equal(engine == "docker" ? EngineKind.Docker : EngineKind.Podman, client.Kind);
        Assert.True(client.ApiVersion >= EngineClient.MinimumApiVersion);
        InfoResponse info = await client.InfoAsync(CancellationToken.None);
        Assert.True(info.NCPU > 0);

        // Many requests in a row reuse pooled keep-alive connections.
        for (int i = 0; i < 20; i++)
            await client.PingAsync(CancellationToken.None);
    }

    [Theory]
    [MemberData(nameof(Engines.Both), MemberType = typeof(Engines))]
    public async Task Image_inspect_finds_the_probe_and_reports_a_missing_image_as_null(string engine)
    {
        await using EngineClient client = await Engines.ConnectAsync(engine);
        ImageInspectResponse? probe = await client.InspectImageAsync(Engines.ProbeImage, CancellationToken.None);
        Assert.NotNull(probe);
        Assert.StartsWith("sha256:", probe.Id, StringComparison.Ordinal);
        Assert.Null(await client.InspectImageAsync("inframind-test/never-built:0", CancellationToken.None));
    }

    [Theory]
    [MemberData(nameof(Engines.Both), MemberType = typeof(Engines))]
    public async Task Image_load_streams_an_archive_and_reports_what_it_loaded(string engine)
    {
        await using EngineClient client = await Engines.ConnectAsync(engine);
        IReadOnlyList<string> loaded = await client.LoadImageAsync(Engines.ProbeArchive, null, CancellationToken.None);
        Assert.Contains(loaded, line => line.Contains("probe", StringComparison.Ordinal) || line.Contains("sha256:", StringComparison.Ordinal));
    }

    [Theory]
    [MemberData(nameof(Engines.Both), MemberType = typeof(Engines))]
    public async Task A_corrupt_archive_is_an_error_even_though_the_engine_answers_200(string engine)
    {
        await using EngineClient client = await Engines.ConnectAsync(engine);
        using var temp = new TempFolder();
        string corrupt = temp["corrupt.tar"];
        byte[] archive = await File.ReadAllBytesAsync(Engines.ProbeArchive);
        await File.WriteAllBytesAsync(corrupt, archive.AsSpan(0, archive.Length / 3).ToArray());
        var error = await Assert.ThrowsAsync<EngineException>(() => client.LoadImageAsync(corrupt, null, CancellationToken.None));
        Assert.True(error.Error is EngineError.ServerError or EngineError.Rejected, error.ToString());
    }

    [Theory]
    [MemberData(nameof(Engines.Both), MemberType = typeof(Engines))]
    public async Task Containers_are_created_listed_by_label_inspected_logged_and_removed(string engine)
    {
        await using EngineClient client = await Engines.ConnectAsync(engine);
        string job = $"list-{Guid.NewGuid():N}";
        var spec = new SandboxSpec(Engines.ProbeImage, job, TestNode, ResourceRequest.Default) { Command = ["stderr", "to-the-log"] };
        ContainerCreateRequest request = spec.ToCreateRequest(stdin: false);
        string id = await client.CreateContainerAsync(spec.ContainerName(request), request, CancellationToken.None);
        try
        {
            List<ContainerSummary> listed = await client.ListContainersAsync(SandboxSpec.JobLabel, job, CancellationToken.None);
            Assert.Equal(id, Assert.Single(listed).Id);

            await client.StartContainerAsync(id, CancellationToken.None);
            Assert.Equal(0, await client.WaitContainerAsync(id, CancellationToken.None));
            ContainerInspectResponse inspected = await client.InspectContainerAsync(id, CancellationToken.None);
            Assert.Equal(job, inspected.Config!.Labels![SandboxSpec.JobLabel]);
            Assert.Equal(TestNode.ToString(), inspected.Config.Labels[SandboxSpec.NodeLabel]);

            (byte[] stdout, byte[] stderr) = await client.LogsAsync(id, 4096, CancellationToken.None);
            Assert.Equal("stdout-line", Encoding.UTF8.GetString(stdout).Trim());
            Assert.Contains("to-the-log", Encoding.UTF8.GetString(stderr), StringComparison.Ordinal);
        }
        finally
        {
            await client.RemoveContainerAsync(id, CancellationToken.None);
        }

        Assert.Empty(await client.ListContainersAsync(SandboxSpec.JobLabel, job, CancellationToken.None));
        await client.RemoveContainerAsync(id, CancellationToken.None); // removing twice is not an error
        var missing = await Assert.ThrowsAsync<EngineException>(() => client.InspectContainerAsync(id, CancellationToken.None));
        Assert.Equal(EngineError.NotFound, missing.Error);
    }

    [Theory]
    [MemberData(nameof(Engines.Both), MemberType = typeof(Engines))]
    public async Task Creating_from_a_missing_image_is_an_image_missing_error(string engine)
    {
        await using EngineClient client = await Engines.ConnectAsync(engine);
        var spec = new SandboxSpec("inframind-test/never-built:0", $"missing-{Guid.NewGuid():N}", TestNode, ResourceRequest.Default);
        ContainerCreateRequest request = spec.ToCreateRequest(stdin: false);
        var error = await Assert.ThrowsAsync<EngineException>(() => client.CreateContainerAsync(spec.ContainerName(request), request, CancellationToken.None));
        Assert.Equal(EngineError.ImageMissing, error.Error);
    }

    [Fact]
    public async Task A_socket_nobody_listens_on_is_unreachable_with_the_fix()
    {
        using var temp = new TempFolder();
        var error = await Assert.ThrowsAsync<EngineException>(() => EngineClient.ConnectAsync(temp["nothing.sock"], CancellationToken.None));
        Assert.Equal(EngineError.Unreachable, error.Error);
        Assert.Contains("runtime.socket", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Engines.Both), MemberType = typeof(Engines))]
    public async Task Events_stream_container_lifecycle_for_our_label(string engine)
    {
        await using EngineClient client = await Engines.ConnectAsync(engine);
        string job = $"events-{Guid.NewGuid():N}";
        var seen = new List<string>();
        var started = new TaskCompletionSource();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var filters = new Dictionary<string, List<string>> { ["type"] = ["container"], ["label"] = [$"{SandboxSpec.JobLabel}={job}"] };
        Task events = client.StreamEventsAsync(filters, message =>
        {
            lock (seen)
                seen.Add(message.Action ?? message.Status ?? "?");
            if (message.Action is "start" or "died" or "die")
                started.TrySetResult();
        }, stop.Token);

        await Task.Delay(300); // let the subscription settle before the container exists
        var spec = new SandboxSpec(Engines.ProbeImage, job, TestNode, ResourceRequest.Default) { Command = ["exit", "0"] };
        ContainerCreateRequest request = spec.ToCreateRequest(stdin: false);
        string id = await client.CreateContainerAsync(spec.ContainerName(request), request, CancellationToken.None);
        try
        {
            await client.StartContainerAsync(id, CancellationToken.None);
            await client.WaitContainerAsync(id, CancellationToken.None);
            await started.Task.WaitAsync(TimeSpan.FromSeconds(20));
        }
        finally
        {
            await client.RemoveContainerAsync(id, CancellationToken.None);
            await stop.CancelAsync();
            await events;
        }

        lock (seen)
            Assert.Contains(seen, action => action is "start" or "create");
    }

    internal static readonly Address TestNode = Address.Read(Convert.FromHexString("7E5F4552091A69125d5DfCb7b8C2659029395Bdf"));
}
