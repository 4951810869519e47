using System.Net;
using System.Text.Json;
using InfraMind.Node.Crypto;
using InfraMind.Node.Jobs.Intake;
using InfraMind.Node.Tests.Examples;
using InfraMind.Node.Tests.Support;
using static InfraMind.Node.Tests.Agent.AgentApi;

namespace InfraMind.Node.Tests.Agent;

/// <summary>A node restarted on the same state_dir answers for jobs it finished before, from the receipt log.</summary>
public sealed class AgentRestartTests
{
    [Fact]
    public async Task A_restarted_node_serves_a_finished_job_from_the_log_and_still_refuses_its_replay()
    {
        using var temp = new TempFolder();
        using var scheduler = new SignedJobs();
        using NodeKey key = NodeKey.Generate(new byte[32]);
        using var server = new LocalHttpServer();
        EmbedderBundle bundle = EmbedderArtifacts.Bundle("stdio");
        Uri uri = server.Serve("/embedder-stdio.tar.gz", new LocalHttpServer.Answer(await File.ReadAllBytesAsync(bundle.Archive)));
        JobRequest job = scheduler.Sign(new JobRequest("restart-" + Guid.NewGuid().ToString("N")[..10], bundle.ModelHash, uri.ToString(), "", "text",
            "embedding<float>", "survives a restart", (ulong)DateTimeOffset.UtcNow.AddMinutes(5).ToUnixTimeSeconds(), key.Address, scheduler.Scheduler, []));

        JsonElement before;
        await using (AgentHost first = await AgentHost.StartAsync(temp.Path, "docker", key, scheduler.Scheduler))
        {
            Answer done = await PostAsync(first.Http, SignedJobs.ToJson(job), wait: true);
            Assert.True(done.Status == HttpStatusCode.OK, done.Text + "\n" + first.Log);
            Assert.Equal("succeeded", State(done.Json));
            before = done.Json.GetProperty("receipt").Clone();
        }

        await using AgentHost second = await AgentHost.StartAsync(temp.Path, "docker", key, scheduler.Scheduler);
        Answer again = await GetJobAsync(second.Http, job.JobId);
        Assert.True(again.Status == HttpStatusCode.OK, again.Text);
        Assert.Equal("succeeded", State(again.Json));
        Assert.Equal(before.GetRawText(), again.Json.GetProperty("receipt").GetRawText()); // byte for byte the logged receipt

        Answer replay = await PostAsync(second.Http, SignedJobs.ToJson(job));
        Assert.True(replay.Status == HttpStatusCode.Conflict, replay.Text);
        Assert.Equal("duplicate_job", replay.Json.GetProperty("error").GetString());
        AssertSignedRejection(replay.Json.GetProperty("rejection"), key.Address, "duplicate_job", job.JobId);

        Answer unknown = await GetJobAsync(second.Http, "never-seen");
        Assert.Equal(HttpStatusCode.NotFound, unknown.Status);
        Assert.Equal(1, server.RequestsFor("/embedder-stdio.tar.gz"));
    }
}

/// <summary>The main happy path on Podman: the same bundles, the same receipts.</summary>
public sealed class PodmanAgentJobTests(PodmanNodeFixture node) : IClassFixture<PodmanNodeFixture>
{
    [Theory]
    [InlineData("stdio")]
    [InlineData("rest")]
    public async Task An_embedder_job_succeeds_on_podman(string protocol)
    {
        EmbedderBundle bundle = EmbedderArtifacts.Bundle(protocol);
        string text = $"podman runs the {protocol} embedder";
        double[] reference = EmbedderArtifacts.Reference([text])[0];
        JobRequest job = node.Job("podman-" + protocol, bundle.ModelHash, node.BundleUri(protocol), text);
        Answer accepted = await PostAsync(node.Http, SignedJobs.ToJson(job));
        Assert.True(accepted.Status == HttpStatusCode.Accepted, accepted.Text);
        JsonElement done = await WaitFinalAsync(node.Http, job.JobId, TimeSpan.FromSeconds(90), () => node.Host.Log);
        Assert.True(State(done) == "succeeded", $"{done}\n{node.Host.Log}");
        EmbedderArtifacts.AssertClose(reference, EmbedderArtifacts.ParseVector(done.GetProperty("output").GetRawText()), "podman " + protocol);

        JsonElement receipt = done.GetProperty("receipt");
        Assert.True(InfraMind.Node.Receipts.SignedReceipt.TryParse(System.Text.Encoding.UTF8.GetBytes(receipt.GetRawText()), out InfraMind.Node.Receipts.SignedReceipt? parsed, out _));
        Assert.Equal(node.Node, parsed!.Receipt.Node);
        Assert.Equal(node.Scheduler.Domain.Digest(job.ToStruct()), parsed.Receipt.JobHash);
        Assert.Equal("0x" + bundle.ImageId["sha256:".Length..], receipt.GetProperty("image_digest").GetString());
    }
}
