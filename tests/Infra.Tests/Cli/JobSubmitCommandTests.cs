using System.Net;
using System.Text;
using System.Text.Json;
using InfraMind.Node.Agent;
using InfraMind.Node.Cli;
using InfraMind.Node.Configuration;
using InfraMind.Node.Crypto;
using InfraMind.Node.Errors;
using InfraMind.Node.Tests.Examples;
using InfraMind.Node.Tests.Support;

namespace InfraMind.Node.Tests.Cli;

/// <summary>
/// `infra jobs submit` against a real node: NodeAgent in-process on Docker, the sample embedder's stdio bundle
/// served over HTTP, a scheduler key the node trusts and one it does not.
/// </summary>
public sealed class JobSubmitCommandTests : IAsyncLifetime, IDisposable
{
    private readonly TempFolder _temp = new();
    private readonly StringWriter _agentLog = new();
    private LocalHttpServer _bundles = null!;
    private NodeAgent _agent = null!;
    private NodeKey _nodeKey = null!;
    private string _url = "";
    private string _bundleUri = "";
    private string _modelHash = "";

    /// <summary>
    /// Arguments to the image's ENTRYPOINT ["/embedder"]. Left empty, the node would use model.yaml's
    /// "/embedder stdio" as those arguments and the model would exit 64 (reported; not this command's to fix).
    /// </summary>
    private const string Entrypoint = "stdio";

    private string TrustedKey => _temp["scheduler.key"];

    private string UntrustedKey => _temp["stranger.key"];

    public async Task InitializeAsync()
    {
        EmbedderBundle bundle = EmbedderArtifacts.Bundle("stdio");
        _modelHash = bundle.ModelHash;
        _bundles = new LocalHttpServer();
        _bundleUri = _bundles.Serve("/embedder-stdio.tar.gz", new LocalHttpServer.Answer(await File.ReadAllBytesAsync(bundle.Archive))).ToString();

        _nodeKey = IdentityFile.Create(_temp["node.key"], force: false);
        using NodeKey scheduler = IdentityFile.Create(TrustedKey, force: false);
        IdentityFile.Create(UntrustedKey, force: false).Dispose();

        var config = new NodeConfig(new HostPaths(_temp.Path, IsRoot: false));
        config.Node.Identity = _temp["node.key"];
        config.Node.StateDir = _temp["state"];
        config.Listener.Bind = "127.0.0.1";
        config.Listener.Port = 0;
        config.Control.Socket = _temp["control.sock"];
        config.Mesh.TrustedSchedulers = [scheduler.Address];
        config.Runtime.Engine = EngineChoice.Docker;
        config.Runtime.Socket = Engines.DockerSocket;
        config.Registry.IpfsGateways = [];
        _agent = await NodeAgent.StartAsync(config, _nodeKey, new AgentLog(TextWriter.Synchronized(_agentLog)), CancellationToken.None);
        var endpoint = (IPEndPoint)_agent.PublicEndPoint!;
        _url = $"http://127.0.0.1:{endpoint.Port}";
    }

    public async Task DisposeAsync()
    {
        await _agent.StopAsync(TimeSpan.FromSeconds(10));
        await _agent.DisposeAsync();
        _nodeKey.Dispose();
        _bundles.Dispose();
        _temp.Dispose();
    }

    public void Dispose()
    {
        // DisposeAsync releases the rest (LocalHttpServer refuses a second Dispose); a second TempFolder.Dispose is harmless.
        _agentLog.Dispose();
        _temp.Dispose();
    }

    private JobSubmitCommand.Options Options(string? key = null, string input = "Hello, World!", bool wait = true, string? jobId = null, string? url = null) =>
        new(key ?? TrustedKey, _modelHash, _bundleUri, input, "text", "embedding<float>", Entrypoint, 120, Node: null, url ?? _url,
            NodeConfig.DefaultChainId, jobId ?? JobSubmitCommand.NewJobId(), wait, Json: false);

    [Fact]
    public async Task Wait_follows_the_job_to_a_verified_receipt_and_prints_the_final_job()
    {
        var output = new StringWriter();
        var progress = new StringWriter();
        int exit = await JobSubmitCommand.RunAsync(Options(jobId: "submit-wait-1"), output, progress, CancellationToken.None);
        Assert.True(exit == 0, $"exit {exit}\nprogress:\n{progress}\nagent:\n{_agentLog}");

        string log = progress.ToString();
        Assert.Contains($"job submit-wait-1: accepted by {_nodeKey.Address}", log, StringComparison.Ordinal);
        Assert.Matches(@"job submit-wait-1: \w+ -> succeeded", log);

        string json = output.ToString();
        using JsonDocument job = JsonDocument.Parse(json);
        Assert.Equal("succeeded", job.RootElement.GetProperty("state").GetString());
        Assert.Equal(EmbedderArtifacts.Dimensions, job.RootElement.GetProperty("output").GetArrayLength());
        double[] reference = EmbedderArtifacts.Reference(["Hello, World!"])[0];
        EmbedderArtifacts.AssertClose(reference, EmbedderArtifacts.ParseVector(job.RootElement.GetProperty("output").GetRawText()), "submitted job");

        // The receipt in what was printed verifies, and it is this node's.
        var verdict = new StringWriter();
        Assert.Equal(0, ReceiptsCommand.Verify(Encoding.UTF8.GetBytes(json), "job", _nodeKey.Address, NodeConfig.DefaultChainId, verdict, TextWriter.Null));
        Assert.StartsWith("OK: receipt for job submit-wait-1 (succeeded", verdict.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Without_wait_it_prints_the_job_id_and_the_same_id_twice_is_refused_as_a_duplicate()
    {
        var output = new StringWriter();
        Assert.Equal(0, await JobSubmitCommand.RunAsync(Options(wait: false, jobId: "submit-nowait-1"), output, TextWriter.Null, CancellationToken.None));
        Assert.Equal("submit-nowait-1\n", output.ToString());

        InfraException e = await Assert.ThrowsAsync<InfraException>(() =>
            JobSubmitCommand.RunAsync(Options(wait: false, jobId: "submit-nowait-1"), TextWriter.Null, TextWriter.Null, CancellationToken.None));
        Assert.Equal(1, e.ExitCode);
        Assert.StartsWith("infra jobs submit: the node refused job 'submit-nowait-1': 409 duplicate_job: ", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', e.Message);

        // Let it finish before the agent stops, following it as --wait would.
        using NodeApi api = NodeApi.Create(_url, "test");
        Assert.Equal(0, await JobSubmitCommand.FollowAsync(api, "submit-nowait-1", DateTimeOffset.UtcNow.AddMinutes(2), TextWriter.Null, TextWriter.Null, CancellationToken.None));
    }

    [Fact]
    public async Task A_job_signed_by_an_untrusted_key_is_refused_with_its_code_and_message()
    {
        InfraException e = await Assert.ThrowsAsync<InfraException>(() =>
            JobSubmitCommand.RunAsync(Options(key: UntrustedKey), TextWriter.Null, TextWriter.Null, CancellationToken.None));
        Assert.Equal(1, e.ExitCode);
        Assert.Contains(": 403 untrusted_signer: ", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public async Task A_job_for_another_node_is_refused_as_wrong_node()
    {
        Assert.True(Address.TryParse("0x000000000000000000000000000000000000dEaD", out Address other));
        JobSubmitCommand.Options options = Options() with { Node = other };
        InfraException e = await Assert.ThrowsAsync<InfraException>(() => JobSubmitCommand.RunAsync(options, TextWriter.Null, TextWriter.Null, CancellationToken.None));
        Assert.Contains(": 403 wrong_node: ", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_node_that_is_not_there_is_one_line_naming_the_address()
    {
        InfraException e = await Assert.ThrowsAsync<InfraException>(() =>
            JobSubmitCommand.RunAsync(Options(url: "http://127.0.0.1:1"), TextWriter.Null, TextWriter.Null, CancellationToken.None));
        Assert.Equal(1, e.ExitCode);
        Assert.StartsWith("infra jobs submit: cannot reach the node at http://127.0.0.1:1/", e.Message, StringComparison.Ordinal);
        Assert.Contains("infra run", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_missing_or_open_key_file_is_an_identity_error_that_names_the_option()
    {
        InfraException missing = await Assert.ThrowsAsync<InfraException>(() =>
            JobSubmitCommand.RunAsync(Options(key: _temp["nope.key"]), TextWriter.Null, TextWriter.Null, CancellationToken.None));
        Assert.StartsWith("infra jobs submit: --key: no identity key at", missing.Message, StringComparison.Ordinal);

        File.SetUnixFileMode(UntrustedKey, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherRead);
        InfraException open = await Assert.ThrowsAsync<InfraException>(() =>
            JobSubmitCommand.RunAsync(Options(key: UntrustedKey), TextWriter.Null, TextWriter.Null, CancellationToken.None));
        Assert.Contains("open to group or others", open.Message, StringComparison.Ordinal);
    }
}
