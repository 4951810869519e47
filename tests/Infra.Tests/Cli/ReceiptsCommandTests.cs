using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using InfraMind.Node.Cli;
using InfraMind.Node.Configuration;
using InfraMind.Node.Crypto;
using InfraMind.Node.Errors;
using InfraMind.Node.Receipts;
using InfraMind.Node.Tests.Receipts;
using InfraMind.Node.Tests.Support;

namespace InfraMind.Node.Tests.Cli;

/// <summary>`infra receipts verify | ls | batch` on receipts signed by the node's own signer, good and tampered.</summary>
public sealed class ReceiptsCommandTests : IDisposable
{
    private readonly TempFolder _temp = new();
    private readonly ReceiptSigner _signer = ReceiptSamples.Signer();

    public void Dispose() => _temp.Dispose();

    private byte[] SignedJson(string jobId = "job-1") => _signer.Sign(ReceiptSamples.Receipt(jobId)).ToJson();

    private static (int Exit, string Out, string Err) Verify(byte[] document, Address? node = null, ulong? chainId = null)
    {
        var output = new StringWriter();
        var errors = new StringWriter();
        int exit = ReceiptsCommand.Verify(document, "doc", node, chainId, output, errors);
        return (exit, output.ToString(), errors.ToString());
    }

    private static byte[] Edit(byte[] json, Action<JsonObject> edit)
    {
        JsonObject doc = JsonNode.Parse(json)!.AsObject();
        edit(doc);
        return Encoding.UTF8.GetBytes(doc.ToJsonString());
    }

    private static byte[] JobDocument(byte[] receipt, string jobId = "job-1") =>
        Encoding.UTF8.GetBytes($"{{\"job_id\":\"{jobId}\",\"state\":\"succeeded\",\"output\":[0.5,-0.25],\"receipt\":{Encoding.UTF8.GetString(receipt)}}}");

    [Fact]
    public void A_good_receipt_verifies_and_names_its_signer()
    {
        (int exit, string output, string errors) = Verify(SignedJson(), _signer.Node, ReceiptSamples.ChainId);
        Assert.Equal(0, exit);
        Assert.StartsWith("OK: receipt for job job-1 (succeeded, 1234 ms) signed by " + _signer.Node, output, StringComparison.Ordinal);
        Assert.Contains("on chain 31337", output, StringComparison.Ordinal);
        Assert.Equal("", errors);
    }

    [Fact]
    public void The_receipt_member_of_a_job_document_verifies()
    {
        (int exit, string output, _) = Verify(JobDocument(SignedJson()));
        Assert.Equal(0, exit);
        Assert.Contains(_signer.Node.ToString(), output, StringComparison.Ordinal);
    }

    [Fact]
    public void A_field_changed_after_signing_fails_as_a_mismatch()
    {
        byte[] tampered = Edit(SignedJson(), d => d["latency_ms"] = 1);
        (int exit, string output, string errors) = Verify(tampered);
        Assert.Equal(1, exit);
        Assert.Equal("", output);
        Assert.Contains("FAIL doc: field 'latency_ms' differs from the signed eip712.message", errors, StringComparison.Ordinal);
    }

    [Fact]
    public void A_field_changed_in_the_signed_message_too_fails_the_signature()
    {
        byte[] tampered = Edit(SignedJson(), d =>
        {
            d["latency_ms"] = 1;
            d["eip712"]!["message"]!["latencyMs"] = "1";
        });
        (int exit, _, string errors) = Verify(tampered);
        Assert.Equal(1, exit);
        Assert.Contains("the signature recovers to 0x", errors, StringComparison.Ordinal);
        Assert.Contains($"not to node {_signer.Node}", errors, StringComparison.Ordinal);
    }

    [Fact]
    public void A_flipped_signature_byte_fails()
    {
        byte[] tampered = Edit(SignedJson(), d =>
        {
            string s = d["signature"]!.GetValue<string>();
            d["signature"] = s[..10] + (s[10] == '0' ? '1' : '0') + s[11..];
        });
        Assert.Equal(1, Verify(tampered).Exit);
    }

    [Fact]
    public void A_good_receipt_by_another_node_or_chain_fails_when_one_is_required()
    {
        Assert.True(Address.TryParse("0x000000000000000000000000000000000000dEaD", out Address other));
        (int exit, _, string errors) = Verify(SignedJson(), other);
        Assert.Equal(1, exit);
        Assert.Contains("not by the expected node 0x000000000000000000000000000000000000dEaD", errors, StringComparison.Ordinal);

        (exit, _, errors) = Verify(SignedJson(), chainId: 1);
        Assert.Equal(1, exit);
        Assert.Contains("signed for chain 31337, not the expected chain 1", errors, StringComparison.Ordinal);
    }

    [Fact]
    public void A_job_document_whose_receipt_is_for_another_job_fails()
    {
        (int exit, _, string errors) = Verify(JobDocument(SignedJson("job-2"), jobId: "job-1"));
        Assert.Equal(1, exit);
        Assert.Contains("for job 'job-1' but its receipt is for 'job-2'", errors, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{\"job_id\":\"j\",\"state\":\"rejected\",\"rejection\":{}}", "was rejected")]
    [InlineData("{\"job_id\":\"j\",\"state\":\"running\"}", "is running and has no receipt yet")]
    [InlineData("{\"hello\":1}", "no receipt here")]
    [InlineData("[1,2]", "not a JSON object")]
    [InlineData("", "not valid JSON")]
    [InlineData("{\"receipt\":", "not valid JSON")]
    [InlineData("{\"receipt\":{}}", "is missing")]
    [InlineData("{\"receipt\":\"a string\"}", "no receipt here")]
    public void Documents_without_a_valid_receipt_fail_with_the_reason(string document, string reason)
    {
        (int exit, _, string errors) = Verify(Encoding.UTF8.GetBytes(document));
        Assert.Equal(1, exit);
        Assert.Contains(reason, errors, StringComparison.Ordinal);
        Assert.Single(errors.TrimEnd('\n').Split('\n'));
    }

    [Fact]
    public void Every_truncation_of_a_receipt_and_of_a_job_document_fails_without_throwing()
    {
        foreach (byte[] whole in new[] { SignedJson(), JobDocument(SignedJson()) })
        {
            for (int length = 0; length < whole.Length; length++)
                Assert.Equal(1, Verify(whole[..length]).Exit);
        }
    }

    [Fact]
    public void Hostile_documents_fail_without_throwing()
    {
        byte[][] hostile =
        [
            Encoding.UTF8.GetBytes(new string('[', 10_000)),
            Encoding.UTF8.GetBytes("{\"receipt\":" + new string('[', 100) + new string(']', 100) + "}"),
            [0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d], // invalid UTF-8 in a property name
            Encoding.UTF8.GetBytes("{\"job_id\":\"j\",\"receipt\":" + Encoding.UTF8.GetString(SignedJson()) + ",\"receipt\":{}}"),
            Encoding.UTF8.GetBytes("{\"receipt\":{\"job_id\":\"" + new string('x', 200_000) + "\"}}"),
            Edit(SignedJson(), d => d["extra"] = 1),
        ];
        foreach (byte[] document in hostile)
            Assert.Equal(1, Verify(document).Exit);
    }

    [Fact]
    public void Ls_reads_the_log_without_taking_it_and_reports_acks_and_a_torn_tail()
    {
        string directory = _temp["state/receipts"];
        long end;
        using (ReceiptLog log = ReceiptLog.Open(directory))
        {
            foreach (string id in new[] { "job-a", "job-b", "job-c" })
                log.Append(_signer.Sign(ReceiptSamples.Receipt(id)));
            Assert.True(log.TryAppend(_signer.Sign(ReceiptSamples.Rejection("job-r"))));
            Assert.True(log.MarkAcked("job-b"));

            // The agent holds the lock: ls still reads, and batch would ask the agent.
            Assert.True(ReceiptLogSnapshot.IsHeld(directory));
            (string text, string notes) = Ls(directory);
            Assert.Contains("3 receipt(s), 1 rejection(s), 1 acknowledged by a scheduler", text, StringComparison.Ordinal);
            Assert.Equal("", notes);
            end = log.Length;
        }

        Assert.False(ReceiptLogSnapshot.IsHeld(directory));
        // A write cut short lands after the last record, over the zero-filled reserve.
        using (var file = new FileStream(Path.Combine(directory, ReceiptLog.FileName), FileMode.Open, FileAccess.Write))
        {
            file.Position = end;
            file.Write("\x05\0\0\0torn"u8);
        }

        (string listed, string note) = Ls(directory);
        string[] lines = listed.TrimEnd('\n').Split('\n');
        Assert.Equal(5, lines.Length);
        Assert.Matches(@"^job-a\s+succeeded\s+1234 ms\s+2023-11-14 22:14:59\s+no$", lines[1]);
        Assert.Matches(@"^job-b\s+succeeded.*yes$", lines[2]);
        Assert.Contains("the last 8 bytes of the log are not a whole record", note, StringComparison.Ordinal);

        var json = new StringWriter();
        Assert.Equal(0, ReceiptsCommand.Ls(directory, json: true, json, TextWriter.Null));
        using JsonDocument first = JsonDocument.Parse(json.ToString().Split('\n')[0]);
        Assert.Equal("job-a", first.RootElement.GetProperty("job_id").GetString());
        Assert.False(first.RootElement.GetProperty("acked").GetBoolean());
    }

    [Fact]
    public void Ls_of_a_node_that_never_ran_lists_nothing()
    {
        (string text, _) = Ls(_temp["nowhere/receipts"]);
        Assert.Contains("0 receipt(s)", text, StringComparison.Ordinal);
        Assert.False(ReceiptLogSnapshot.IsHeld(_temp["nowhere/receipts"]));
    }

    [Fact]
    public void A_log_longer_than_the_read_window_is_listed_whole()
    {
        string directory = _temp["state/receipts"];
        using (ReceiptLog log = ReceiptLog.Open(directory))
        {
            for (int i = 0; log.Length <= 2L * ReceiptLog.RecoveryWindow; i++)
                log.Append(_signer.Sign(ReceiptSamples.Receipt($"job-{i:D4}")));
        }

        var listed = new List<string>();
        ReceiptLogSnapshot snapshot = ReceiptLogSnapshot.Read(directory, keepLatest: 10, each: (r, _) => listed.Add(r.JobId));
        Assert.True(snapshot.ReceiptCount > 1000, $"{snapshot.ReceiptCount} receipts");
        Assert.Equal(Enumerable.Range(0, snapshot.ReceiptCount).Select(i => $"job-{i:D4}"), listed);
        Assert.Equal(listed[^10..], snapshot.Latest.Select(r => r.JobId));
        Assert.Equal(0, snapshot.UnreadBytes);
        Assert.Equal(0, snapshot.BadReceipts);
    }

    [Fact]
    public void A_log_damaged_in_the_middle_is_read_up_to_the_damage()
    {
        string directory = LogJobs("job-a", "job-b");

        byte[] data = File.ReadAllBytes(Path.Combine(directory, ReceiptLog.FileName));
        int second = LogRecord.SizeOf(SignedJson("job-a").Length);
        data[second + LogRecord.HeaderSize + 5] ^= 0x20; // a flipped bit inside the second record
        File.WriteAllBytes(Path.Combine(directory, ReceiptLog.FileName), data);
        ReceiptLogSnapshot snapshot = ReceiptLogSnapshot.Read(directory, keepLatest: 10);
        Assert.Equal(["job-a"], snapshot.Latest.Select(r => r.JobId));
        Assert.Equal(LogRecord.EndOfContent(data) - second, snapshot.UnreadBytes); // the zeros after the records are the log's reserve
    }

    [Fact]
    public void Signatures_are_checked_after_the_verified_prefix_only_as_the_agent_does()
    {
        string directory = LogJobs("job-a", "job-b");

        // job-b's record replaced by one whose CRC holds but whose signature no longer matches its content.
        string file = Path.Combine(directory, ReceiptLog.FileName);
        byte[] data = File.ReadAllBytes(file);
        int second = LogRecord.SizeOf(SignedJson("job-a").Length);
        byte[] forged = ReceiptLogTests.Forged("job-b");
        byte[] record = new byte[LogRecord.SizeOf(forged.Length)];
        LogRecord.Write(LogRecordKind.Receipt, forged, record);
        File.WriteAllBytes(file, [.. data[..second], .. record, .. new byte[4096]]);

        // The prefix the agent saved no longer names the file: every receipt is checked and the forged one left out.
        ReceiptLogSnapshot checkedAll = ReceiptLogSnapshot.Read(directory, keepLatest: 10);
        Assert.Equal(["job-a"], checkedAll.Latest.Select(r => r.JobId));
        Assert.Equal(1, checkedAll.BadReceipts);

        // A prefix naming the file as it now is: its records are read as the node's own, as a start of the agent reads them.
        VerifiedPrefix prefix = default(VerifiedPrefix).Extend(data.AsSpan(0, second)).Extend(record);
        File.WriteAllText(Path.Combine(directory, VerifiedPrefix.FileName), prefix.Format());
        ReceiptLogSnapshot trusted = ReceiptLogSnapshot.Read(directory, keepLatest: 10);
        Assert.Equal(["job-a", "job-b"], trusted.Latest.Select(r => r.JobId));
        Assert.Equal(0, trusted.BadReceipts);
    }

    [Fact]
    public async Task Batch_offline_signs_the_logged_receipts_with_the_node_key()
    {
        NodeConfig config = Config();
        using (ReceiptLog log = ReceiptLog.Open(ReceiptsCommand.LogDirectory(config)))
        {
            log.Append(_signer.Sign(ReceiptSamples.Receipt("job-a", timestamp: 1_700_000_100)));
            log.Append(_signer.Sign(ReceiptSamples.Receipt("job-b", timestamp: 1_700_000_300)));
        }

        var notes = new StringWriter();
        byte[] json = await ReceiptsCommand.BatchAsync(config, "http://127.0.0.1:1", notes, CancellationToken.None);
        using JsonDocument batch = JsonDocument.Parse(json);
        JsonElement root = batch.RootElement;

        Assert.True(new ReceiptBatcher(_signer).TryBuild(
            [_signer.Sign(ReceiptSamples.Receipt("job-a", timestamp: 1_700_000_100)), _signer.Sign(ReceiptSamples.Receipt("job-b", timestamp: 1_700_000_300))], out SignedReceiptBatch? expected));
        Assert.Equal(expected!.Batch.Root.ToString(), root.GetProperty("root").GetString());
        Assert.Equal(2, root.GetProperty("count").GetInt64());
        Assert.Equal(1_700_000_100, root.GetProperty("from_timestamp").GetInt64());
        Assert.Equal("standard-v1", root.GetProperty("dump").GetProperty("format").GetString());
        Assert.Equal(_signer.Node.ToString(), root.GetProperty("node").GetString());
        Assert.Contains("batch of 2 receipt(s)", notes.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Batch_with_an_empty_log_says_to_run_a_job_first()
    {
        InfraException e = await Assert.ThrowsAsync<InfraException>(() => ReceiptsCommand.BatchAsync(Config(), "http://127.0.0.1:1", TextWriter.Null, CancellationToken.None));
        Assert.Contains("no receipts in", e.Message, StringComparison.Ordinal);
        Assert.Contains("run a job first", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Batch_asks_the_agent_when_it_holds_the_log()
    {
        NodeConfig config = Config();
        using ReceiptLog log = ReceiptLog.Open(ReceiptsCommand.LogDirectory(config));
        using var agent = new LocalHttpServer();
        agent.Serve("/v1/receipts/batch", new LocalHttpServer.Answer("{\"root\":\"from the agent\"}"u8.ToArray(), "application/json"));

        var notes = new StringWriter();
        byte[] json = await ReceiptsCommand.BatchAsync(config, agent.BaseUri.ToString(), notes, CancellationToken.None);
        Assert.Equal("{\"root\":\"from the agent\"}", Encoding.UTF8.GetString(json));
        Assert.Contains("the running agent holds the receipt log", notes.ToString(), StringComparison.Ordinal);

        agent.Serve("/v1/receipts/batch", new LocalHttpServer.Answer("{\"error\":\"no_receipts\",\"message\":\"no receipts have been logged yet\"}"u8.ToArray(), "application/json", 404));
        InfraException e = await Assert.ThrowsAsync<InfraException>(() => ReceiptsCommand.BatchAsync(config, agent.BaseUri.ToString(), TextWriter.Null, CancellationToken.None));
        Assert.Contains("404 no_receipts: no receipts have been logged yet", e.Message, StringComparison.Ordinal);

        e = await Assert.ThrowsAsync<InfraException>(() => ReceiptsCommand.BatchAsync(config, "http://127.0.0.1:1", TextWriter.Null, CancellationToken.None));
        Assert.Contains("cannot reach the node at http://127.0.0.1:1/", e.Message, StringComparison.Ordinal);
    }

    /// <summary>A receipt log under state/receipts holding the given jobs' receipts, closed again; its folder.</summary>
    private string LogJobs(params string[] jobs)
    {
        string directory = _temp["state/receipts"];
        using ReceiptLog log = ReceiptLog.Open(directory);
        foreach (string job in jobs)
            log.Append(_signer.Sign(ReceiptSamples.Receipt(job)));
        return directory;
    }

    private NodeConfig Config()
    {
        var config = new NodeConfig(new HostPaths(_temp.Path, IsRoot: false));
        config.Node.StateDir = _temp["state"];
        config.Node.Identity = _temp["identity.key"];
        File.WriteAllText(config.Node.Identity, "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318\n");
        File.SetUnixFileMode(config.Node.Identity, IdentityFile.FileMode);
        config.Mesh.ChainId = ReceiptSamples.ChainId;
        return config;
    }

    private static (string Out, string Notes) Ls(string directory)
    {
        var output = new StringWriter();
        var notes = new StringWriter();
        Assert.Equal(0, ReceiptsCommand.Ls(directory, json: false, output, notes));
        return (output.ToString(), notes.ToString());
    }
}
