using System.Net;
using System.Text;
using System.Text.Json;
using InfraMind.Node.Configuration;
using InfraMind.Node.Crypto;
using InfraMind.Node.Jobs.Intake;
using InfraMind.Node.Listener.Routes;
using InfraMind.Node.Receipts;
using InfraMind.Node.Tests.Examples;
using InfraMind.Node.Tests.Support;
using static InfraMind.Node.Tests.Agent.AgentApi;

namespace InfraMind.Node.Tests.Agent;

/// <summary>
/// Issue #6 end to end on Docker: signed jobs in over the public port, the sample embedder run in the sandbox,
/// signed receipts out (checked here and by ethers), and every way a job is refused or fails.
/// </summary>
public sealed class AgentJobTests(DockerNodeFixture node) : IClassFixture<DockerNodeFixture>
{
    private static readonly TimeSpan JobTimeout = TimeSpan.FromSeconds(60);

    /// <summary>A probe bundle whose stdio model prints its input back: the job's input is its "embedding".</summary>
    private const string EchoManifest = """
        name: probe-echo-embedding
        version: 1.0.0
        runtime: static
        entrypoint: echo
        protocol: stdio
        resources:
          cpu: 250m
          memory: 32Mi
        input_schema: text
        output_schema: embedding<float>
        """;

    [Theory]
    [InlineData("stdio")]
    [InlineData("rest")]
    public async Task An_embedder_job_succeeds_with_the_reference_output_and_a_receipt_ethers_verifies(string protocol)
    {
        EmbedderBundle bundle = EmbedderArtifacts.Bundle(protocol);
        string[] texts = [$"the quick brown fox jumps over the {protocol} dog", "ünïcode ✓ — second job"];
        IReadOnlyList<double[]> reference = EmbedderArtifacts.Reference(texts);

        // 1. POST → 202 {job_id, state}; then GET until final.
        JobRequest first = node.Job("happy-" + protocol, bundle.ModelHash, node.BundleUri(protocol), texts[0]);
        Answer accepted = await PostAsync(node.Http, SignedJobs.ToJson(first));
        Assert.True(accepted.Status == HttpStatusCode.Accepted, accepted.Text);
        Assert.Equal(first.JobId, accepted.Json.GetProperty("job_id").GetString());
        Assert.Contains(accepted.Json.GetProperty("state").GetString(), new[] { "queued", "preparing", "starting", "running" });
        JsonElement done = await WaitFinalAsync(node.Http, first.JobId, JobTimeout, () => node.Host.Log);
        Assert.True(State(done) == "succeeded", $"{done}\n{node.Host.Log}");
        EmbedderArtifacts.AssertClose(reference[0], EmbedderArtifacts.ParseVector(done.GetProperty("output").GetRawText()), "first job");
        await AssertOneLogLineAsync(first.JobId, "succeeded");
        int fetches = node.Server.RequestsFor(NodeFixture.BundlePath(protocol));
        Assert.Equal(1, fetches);
        await AssertReceiptAsync(first, done, bundle, protocol);

        // 2. The same model again, with ?wait=true: 200 with the receipt, and a cache hit (no new fetch).
        JobRequest second = node.Job("again-" + protocol, bundle.ModelHash, node.BundleUri(protocol), texts[1]);
        Answer waited = await PostAsync(node.Http, SignedJobs.ToJson(second), wait: true);
        Assert.True(waited.Status == HttpStatusCode.OK, waited.Text);
        Assert.Equal("succeeded", State(waited.Json));
        EmbedderArtifacts.AssertClose(reference[1], EmbedderArtifacts.ParseVector(waited.Json.GetProperty("output").GetRawText()), "second job");
        Assert.Equal(fetches, node.Server.RequestsFor(NodeFixture.BundlePath(protocol)));
        await AssertReceiptAsync(second, waited.Json, bundle, protocol);

        // The fetch and the hit show in /metrics: bytes fetched over the wire, bytes served from the cache.
        string metrics = await node.Http.GetStringAsync("metrics");
        Assert.True(MetricValue(metrics, "inframind_fetch_bytes_total") > 0, metrics);
        Assert.True(MetricValue(metrics, "inframind_cache_hits_total") >= 1, metrics);
        Assert.True(MetricValue(metrics, "inframind_cache_bytes_served_total") > 0, metrics);

        // 3. Both receipts and the current batch verify with ethers and @openzeppelin/merkle-tree.
        using var folder = new TempFolder();
        await File.WriteAllTextAsync(folder["first.receipt.json"], done.GetProperty("receipt").GetRawText());
        await File.WriteAllTextAsync(folder["second.receipt.json"], waited.Json.GetProperty("receipt").GetRawText());
        Answer batch = await SendAsync(node.Http, HttpMethod.Get, "v1/receipts/batch", null, null);
        Assert.True(batch.Status == HttpStatusCode.OK, batch.Text);
        Assert.True(batch.Json.GetProperty("count").ValueKind is JsonValueKind.Number or JsonValueKind.String);
        await File.WriteAllTextAsync(folder["current.batch.json"], batch.Text);
        string? verified = await ReferenceVerifier.VerifyAsync(folder.Path);
        Assert.Contains("2 receipts, 0 rejections, 1 batches verified; 0 failures", verified, StringComparison.Ordinal);
    }

    /// <summary>CONTRACT.md §7 field by field, against values computed here independently of the node.</summary>
    private async Task AssertReceiptAsync(JobRequest job, JsonElement answer, EmbedderBundle bundle, string protocol)
    {
        JsonElement receipt = answer.GetProperty("receipt");
        byte[] receiptBytes = Encoding.UTF8.GetBytes(receipt.GetRawText());
        Assert.True(SignedReceipt.TryParse(receiptBytes, out SignedReceipt? parsed, out ReceiptFormatError error), $"receipt does not parse: {error}");
        Assert.Equal(node.Node, parsed!.Receipt.Node); // the signature recovers to this node (TryParse checks it)
        Assert.Equal(NodeConfig.DefaultChainId, parsed.ChainId);

        Hash32 jobHash = node.Scheduler.Domain.Digest(job.ToStruct());
        Assert.Equal(job.JobId, receipt.GetProperty("job_id").GetString());
        Assert.Equal(jobHash.ToString(), receipt.GetProperty("job_hash").GetString());
        Assert.Equal(jobHash.ToString(), answer.GetProperty("job_hash").GetString());
        Assert.Equal(bundle.ModelHash, receipt.GetProperty("model_ref").GetString());
        Assert.Equal("0x" + bundle.ImageId["sha256:".Length..], receipt.GetProperty("image_digest").GetString());
        Assert.Equal("succeeded", receipt.GetProperty("status").GetString());
        Assert.Equal(node.Node.ToString(), receipt.GetProperty("node").GetString());
        Assert.Equal(node.Node.ToString(), receipt.GetProperty("node_id").GetString());

        // output_hash: keccak256 of the output bytes as returned (OutputExtractor): all of stdout for stdio,
        // the "output" member's JSON text for rest. The host binary gives stdout independently.
        (int exit, string stdout, string stderr) = EmbedderArtifacts.Run(EmbedderArtifacts.Binary, ["stdio"], Encoding.UTF8.GetBytes(job.Input), TimeSpan.FromSeconds(30));
        Assert.True(exit == 0, stderr);
        byte[] hashed = protocol == "stdio" ? Encoding.UTF8.GetBytes(stdout) : Encoding.UTF8.GetBytes(answer.GetProperty("output").GetRawText());
        Assert.Equal(Keccak256.Hash(hashed).ToString(), receipt.GetProperty("output_hash").GetString());
        if (protocol == "rest")
            Assert.Equal(stdout.TrimEnd('\n'), answer.GetProperty("output").GetRawText());

        ulong started = receipt.GetProperty("started_at").GetUInt64();
        ulong finished = receipt.GetProperty("finished_at").GetUInt64();
        ulong latency = receipt.GetProperty("latency_ms").GetUInt64();
        ulong now = (ulong)DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        Assert.InRange(started, now - 120, finished);
        Assert.InRange(finished, started, now);
        Assert.InRange(latency, 0UL, ((finished - started) + 1) * 1000); // a warm rest request can take under 1 ms
        Assert.Equal(finished, receipt.GetProperty("timestamp").GetUInt64());
        await Task.CompletedTask;
    }

    [Fact]
    public async Task A_bad_signature_is_401_with_a_signed_rejection_and_never_reaches_the_engine()
    {
        JobRequest signed = Unreachable("badsig");
        JobRequest tampered = signed with { Input = "not what was signed" };
        await AssertRefusedAsync(SignedJobs.ToJson(tampered), HttpStatusCode.Unauthorized, "bad_signature", tampered.JobId);
    }

    [Fact]
    public async Task An_untrusted_scheduler_is_403()
    {
        using var stranger = new SignedJobs(seed: 99);
        JobRequest job = Unreachable("untrusted", signer: stranger);
        await AssertRefusedAsync(SignedJobs.ToJson(job), HttpStatusCode.Forbidden, "untrusted_signer", job.JobId);
    }

    [Fact]
    public async Task A_job_for_another_node_is_403()
    {
        using var other = new SignedJobs(seed: 55);
        JobRequest job = Unreachable("othernode", forNode: other.Scheduler);
        await AssertRefusedAsync(SignedJobs.ToJson(job), HttpStatusCode.Forbidden, "wrong_node", job.JobId);
    }

    [Fact]
    public async Task A_passed_deadline_is_410()
    {
        JobRequest job = Unreachable("late", deadline: (ulong)DateTimeOffset.UtcNow.AddSeconds(-5).ToUnixTimeSeconds());
        await AssertRefusedAsync(SignedJobs.ToJson(job), HttpStatusCode.Gone, "deadline_passed", job.JobId);
    }

    [Fact]
    public async Task Input_failing_its_schema_is_422()
    {
        JobRequest job = Unreachable("badinput", inputSchema: "vector<float>", input: "hello");
        await AssertRefusedAsync(SignedJobs.ToJson(job), HttpStatusCode.UnprocessableEntity, "input_invalid", job.JobId);
    }

    [Fact]
    public async Task A_replayed_job_id_is_409_and_runs_once()
    {
        EmbedderBundle bundle = EmbedderArtifacts.Bundle("stdio");
        JobRequest job = node.Job("replay", bundle.ModelHash, node.BundleUri("stdio"), "replay me");
        Answer first = await PostAsync(node.Http, SignedJobs.ToJson(job), wait: true);
        Assert.True(first.Status == HttpStatusCode.OK, first.Text);
        Assert.Equal("succeeded", State(first.Json));

        // Replayed while the first is finished, with the very same bytes: refused before the engine.
        await AssertRefusedAsync(SignedJobs.ToJson(job), HttpStatusCode.Conflict, "duplicate_job", job.JobId);
        JsonElement still = (await GetJobAsync(node.Http, job.JobId)).Json;
        Assert.Equal(first.Json.GetProperty("receipt").GetProperty("signature").GetString(), still.GetProperty("receipt").GetProperty("signature").GetString());
    }

    [Fact]
    public async Task Malformed_json_is_400_and_the_node_keeps_serving()
    {
        await AssertRefusedAsync("{\"job_id\": \"x\", \"model_hash\": "u8.ToArray(), HttpStatusCode.BadRequest, "malformed", null);
        await AssertRefusedAsync("[1,2,3]"u8.ToArray(), HttpStatusCode.BadRequest, "malformed", null);
        await AssertRefusedAsync(Array.Empty<byte>(), HttpStatusCode.BadRequest, "malformed", null);
        Answer health = await SendAsync(node.Http, HttpMethod.Get, "healthz", null, null);
        Assert.Equal(HttpStatusCode.OK, health.Status);
    }

    [Fact]
    public async Task A_wrong_content_type_is_415()
    {
        JobRequest job = Unreachable("ctype");
        await AssertRefusedAsync(SignedJobs.ToJson(job), HttpStatusCode.UnsupportedMediaType, "wrong_content_type", null, "text/plain");
    }

    [Fact]
    public async Task An_oversized_body_is_413_from_its_declared_length()
    {
        int created = node.Creations.Count;
        int port = ((IPEndPoint)node.Host.Agent.PublicEndPoint!).Port;
        using RawHttp raw = await RawHttp.ConnectAsync(port);
        string head = $"POST /v1/jobs HTTP/1.1\r\nHost: node\r\nContent-Type: application/json\r\nContent-Length: {PublicRoutes.MaxJobBytes + 1}\r\n\r\n";
        await raw.SendAsync(Encoding.ASCII.GetBytes(head + "{\"job_id\":\""));
        RawHttp.Response? response = await raw.ReadAsync(TimeSpan.FromSeconds(10));
        Assert.NotNull(response);
        Assert.Equal(413, response!.Status);
        using JsonDocument body = JsonDocument.Parse(response.Body);
        Assert.Equal("too_large", body.RootElement.GetProperty("error").GetString());
        Assert.Equal(created, await node.Creations.SettledCountAsync());

        // A whole body over the limit, sent in full, gets the same answer.
        byte[] big = Encoding.UTF8.GetBytes(SignedJobs.ToJsonText(Unreachable("big", input: new string('a', PublicRoutes.MaxJobBytes))));
        await AssertRefusedAsync(big, HttpStatusCode.RequestEntityTooLarge, "too_large", null);
    }

    [Fact]
    public async Task A_model_asking_for_more_memory_than_the_host_is_rejected_after_the_fetch_and_runs_nothing()
    {
        (Uri uri, string modelHash) = node.ProbeBundle("huge", EchoManifest.Replace("memory: 32Mi", "memory: 65536Gi", StringComparison.Ordinal));
        JobRequest job = node.Job("huge", modelHash, uri, "[1,2]", entrypoint: "echo");
        int created = node.Creations.Count;
        Answer accepted = await PostAsync(node.Http, SignedJobs.ToJson(job));
        Assert.True(accepted.Status == HttpStatusCode.Accepted, accepted.Text);
        JsonElement done = await WaitFinalAsync(node.Http, job.JobId, JobTimeout, () => node.Host.Log);
        Assert.True(State(done) == "rejected", done.ToString());
        Assert.Equal("insufficient_resources", done.GetProperty("reason").GetString());
        AssertSignedRejection(done.GetProperty("rejection"), node.Node, "insufficient_resources", job.JobId);
        Assert.Equal(1, node.Server.RequestsFor("/huge.tar.gz")); // found out only once the bundle was read
        Assert.Equal(created, await node.Creations.SettledCountAsync());
    }

    [Theory]
    [InlineData("wrong-type", "\"just a string\"")]
    [InlineData("nan", "[1, NaN]")]
    [InlineData("empty", "[]")]
    [InlineData("oversized", null)]
    public async Task Output_that_is_not_an_embedding_ends_output_invalid_with_a_signed_receipt(string name, string? input)
    {
        // Over the 65,536-element limit of a vector, and still well under the job's 1 MiB.
        input ??= "[" + string.Join(',', Enumerable.Repeat("0", 70_000)) + "]";
        (Uri uri, string modelHash) = Echo();
        JobRequest job = node.Job("invalid-" + name, modelHash, uri, input, entrypoint: "echo");
        Answer waited = await PostAsync(node.Http, SignedJobs.ToJson(job), wait: true);
        Assert.True(waited.Status == HttpStatusCode.OK, waited.Text);
        Assert.True(State(waited.Json) == "output_invalid", $"{waited.Text[..Math.Min(2000, waited.Text.Length)]}\n{node.Host.Log}");
        Assert.True(waited.Json.TryGetProperty("message", out JsonElement why) && why.GetString()!.Length > 0);

        JsonElement receipt = waited.Json.GetProperty("receipt");
        Assert.True(SignedReceipt.TryParse(Encoding.UTF8.GetBytes(receipt.GetRawText()), out SignedReceipt? parsed, out ReceiptFormatError error), error.ToString());
        Assert.Equal("output_invalid", parsed!.Receipt.Status);
        Assert.Equal(node.Node, parsed.Receipt.Node);
        // The echo model's stdout is the input: its hash is what the receipt attests.
        Assert.Equal(Keccak256.Hash(Encoding.UTF8.GetBytes(input)), parsed.Receipt.OutputHash);
    }

    [Fact]
    public async Task A_model_sleeping_past_the_deadline_ends_timed_out_and_its_container_is_gone()
    {
        (Uri uri, string modelHash) = Echo();
        // Prepare the bundle first, so the deadline below is spent running, not fetching.
        JobRequest warm = node.Job("sleep-warm", modelHash, uri, "[0.5]", entrypoint: "echo");
        Assert.Equal(HttpStatusCode.OK, (await PostAsync(node.Http, SignedJobs.ToJson(warm), wait: true)).Status);

        ulong deadline = (ulong)DateTimeOffset.UtcNow.ToUnixTimeSeconds() + 3;
        JobRequest job = node.Job("sleep", modelHash, uri, "[1]", entrypoint: "sleep 60", deadline: deadline);
        Answer waited = await PostAsync(node.Http, SignedJobs.ToJson(job), wait: true);
        Assert.True(waited.Status == HttpStatusCode.OK, waited.Text);
        Assert.True(State(waited.Json) == "timed_out", $"{waited.Text}\n{node.Host.Log}");
        Assert.InRange((ulong)DateTimeOffset.UtcNow.ToUnixTimeSeconds(), deadline, deadline + 10);
        Assert.True(SignedReceipt.TryParse(Encoding.UTF8.GetBytes(waited.Json.GetProperty("receipt").GetRawText()), out SignedReceipt? parsed, out _));
        Assert.Equal("timed_out", parsed!.Receipt.Status);
        Assert.Empty(await node.ContainersOfJobAsync(job.JobId));
    }

    [Fact]
    public async Task An_image_removed_behind_the_nodes_back_is_loaded_again_from_the_cache_and_the_job_succeeds()
    {
        (Uri uri, string modelHash) = node.ProbeBundle("own-image", EchoManifest, uniqueImage: true);
        JobRequest first = node.Job("own-image", modelHash, uri, "[0.25]", entrypoint: "echo");
        Answer done = await PostAsync(node.Http, SignedJobs.ToJson(first), wait: true);
        Assert.True(done.Status == HttpStatusCode.OK && State(done.Json) == "succeeded", $"{done.Text}\n{node.Host.Log}");
        string imageId = "sha256:" + done.Json.GetProperty("receipt").GetProperty("image_digest").GetString()![2..];
        Assert.NotNull(await node.Engine.InspectImageAsync(imageId, CancellationToken.None));

        // An operator prunes the image while the node still trusts its last confirmation of it.
        await EngineImages.RemoveAsync(node.Engine.SocketPath, imageId);
        Assert.Null(await node.Engine.InspectImageAsync(imageId, CancellationToken.None));

        JobRequest second = node.Job("own-image-again", modelHash, uri, "[0.5]", entrypoint: "echo");
        Answer again = await PostAsync(node.Http, SignedJobs.ToJson(second), wait: true);
        Assert.True(again.Status == HttpStatusCode.OK && State(again.Json) == "succeeded", $"{again.Text}\n{node.Host.Log}");
        Assert.NotNull(await node.Engine.InspectImageAsync(imageId, CancellationToken.None));
        Assert.Equal(1, node.Server.RequestsFor("/own-image.tar.gz")); // reloaded from the cache, not fetched
    }

    private (Uri Uri, string ModelHash) Echo() => node.ProbeBundle("echo", EchoManifest);

    /// <summary>A job whose bundle does not exist: if it ever got past intake, the fetch would show on the server.</summary>
    private JobRequest Unreachable(string prefix, string input = "hello", string inputSchema = "text", ulong? deadline = null, Address? forNode = null, SignedJobs? signer = null)
    {
        string modelHash = "sha256:" + Convert.ToHexStringLower(Guid.NewGuid().ToByteArray()) + Convert.ToHexStringLower(Guid.NewGuid().ToByteArray());
        return node.Job(prefix, modelHash, new Uri(node.Server.BaseUri, $"/never-{prefix}.tar.gz"), input, inputSchema: inputSchema, deadline: deadline, node: forNode, signer: signer);
    }

    private async Task AssertRefusedAsync(byte[] body, HttpStatusCode status, string code, string? signedFor, string contentType = "application/json")
    {
        int created = node.Creations.Count;
        int fetched = node.Server.TotalRequests;
        Answer answer = await PostAsync(node.Http, body, contentType: contentType);
        Assert.True(answer.Status == status, $"expected {(int)status} {code}, got {(int)answer.Status}: {answer.Text}");
        Assert.Equal(code, answer.Json.GetProperty("error").GetString());
        Assert.False(string.IsNullOrWhiteSpace(answer.Json.GetProperty("message").GetString()));
        if (signedFor is not null)
            AssertSignedRejection(answer.Json.GetProperty("rejection"), node.Node, code, signedFor);
        Assert.Equal(created, await node.Creations.SettledCountAsync());
        Assert.Equal(fetched, node.Server.TotalRequests);
    }

    private static double MetricValue(string exposition, string name)
    {
        foreach (string line in exposition.Split('\n'))
        {
            if (line.StartsWith(name + " ", StringComparison.Ordinal))
                return double.Parse(line[(name.Length + 1)..], System.Globalization.CultureInfo.InvariantCulture);
        }

        return double.NaN;
    }

    /// <summary>At the default log level a job writes one line, its outcome and time; its other states are debug lines.</summary>
    private async Task AssertOneLogLineAsync(string jobId, string outcome)
    {
        // The log follows the board's events on its own task: the line may land just after the answer.
        string expected = $"info: job {jobId} {outcome} in ";
        for (int i = 0; i < 100 && !node.Host.Log.Contains(expected, StringComparison.Ordinal); i++)
            await Task.Delay(50);
        string[] lines = node.Host.Log.Split('\n').Select(line => line.TrimEnd('\r')).ToArray();
        string outcomeLine = Assert.Single(lines, line => line.StartsWith(expected, StringComparison.Ordinal));
        Assert.Matches(@" in \d+ ms$", outcomeLine);
        // Download progress stays at info (long work); the bare state changes do not.
        Assert.DoesNotContain(lines, line => System.Text.RegularExpressions.Regex.IsMatch(line, $@"job {System.Text.RegularExpressions.Regex.Escape(jobId)} (queued|preparing|starting|running)$"));
    }
}
