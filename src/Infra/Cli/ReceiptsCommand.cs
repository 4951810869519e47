using System.Globalization;
using System.Text;
using System.Text.Json;
using InfraMind.Node.Configuration;
using InfraMind.Node.Crypto;
using InfraMind.Node.Receipts;

namespace InfraMind.Node.Cli;

/// <summary>
/// `infra receipts ls | verify | batch`: the node's signed receipts (CONTRACT.md §7), from its durable log,
/// checked the way any verifier would check them.
/// </summary>
public static class ReceiptsCommand
{
    /// <summary>A job document with a large output is still far below this; a receipt alone is at most 64 KiB.</summary>
    public const int MaxVerifyBytes = 16 << 20;

    public static readonly CommandSpec Spec = new(
        "receipts",
        "list, verify and batch the node's signed receipts",
        "infra receipts ls [--config PATH] | infra receipts verify FILE|- [--node ADDRESS] | infra receipts batch [--out FILE] [--config PATH]",
        [new("--help", null, "show this help; `infra receipts <ls|verify|batch> --help` for each")],
        _ => ThrowUsage("infra receipts: name what to do: ls, verify FILE|- or batch (see `infra receipts --help`)"))
    {
        TakesArguments = true,
    };

    public static readonly CommandSpec LsSpec = new(
        "receipts ls",
        "list the receipts in the node's durable log: job, status, latency, acknowledged",
        "infra receipts ls [--json] [--config PATH]",
        [
            new("--json", null, "print one JSON object per receipt per line"),
            new("--config", "PATH", "configuration file (node.state_dir)"),
            new("--help", null, "show this help"),
        ],
        RunLs);

    public static readonly CommandSpec VerifySpec = new(
        "receipts verify",
        "check a receipt's EIP-712 digest and that its signature recovers to its node",
        "infra receipts verify FILE|- [--node ADDRESS] [--chain-id N]",
        [
            new("--node", "ADDRESS", "also require the signer to be this node"),
            new("--chain-id", "N", "also require this EIP-712 chain id"),
            new("--help", null, "show this help"),
        ],
        RunVerify)
    {
        TakesArguments = true,
    };

    public static readonly CommandSpec BatchSpec = new(
        "receipts batch",
        "build the signed Merkle batch of the logged receipts (OpenZeppelin StandardMerkleTree dump)",
        "infra receipts batch [--out FILE] [--url URL] [--config PATH]",
        [
            new("--out", "FILE", "write the batch JSON to FILE instead of stdout"),
            new("--url", "URL", "when the agent runs, ask it here (default: from listener.bind and listener.port)"),
            new("--config", "PATH", "configuration file (node.state_dir, node.identity, mesh.chain_id)"),
            new("--help", null, "show this help"),
        ],
        RunBatch);

    /// <summary>The subcommands, for Program's dispatch and help.</summary>
    public static IReadOnlyList<CommandSpec> Subcommands { get; } = [LsSpec, VerifySpec, BatchSpec];

    public static string LogDirectory(NodeConfig config) => Path.Combine(config.Node.StateDir, "receipts");

    private static int RunLs(ParsedArguments args)
    {
        NodeConfig config = Program.LoadConfig(args);
        // One write a buffer, not a line: Console.Out flushes every line, a system call per receipt.
        using var output = new StreamWriter(Console.OpenStandardOutput(), new UTF8Encoding(false), 64 * 1024);
        return Ls(LogDirectory(config), args.Has("--json"), output, Console.Error);
    }

    internal static int Ls(string directory, bool json, TextWriter output, TextWriter notes)
    {
        ReceiptLogSnapshot log;
        if (json)
        {
            log = ReceiptLogSnapshot.Read(directory, each: (r, acked) => output.WriteLine(LsJson(r, acked)));
        }
        else
        {
            output.WriteLine($"{"JOB ID",-28} {"STATUS",-14} {"LATENCY",10} {"FINISHED",-20} ACKED");
            log = ReceiptLogSnapshot.Read(directory, each: (r, acked) =>
            {
                Receipt x = r.Receipt;
                string finished = DateTimeOffset.FromUnixTimeSeconds((long)Math.Min(x.FinishedAt, 253402300799UL)).ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);
                output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{x.JobId,-28} {x.Status,-14} {x.LatencyMs + " ms",10} {finished,-20} {(acked ? "yes" : "no")}"));
            });
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{log.ReceiptCount} receipt(s), {log.Rejections} rejection(s), {log.AckedReceipts} acknowledged by a scheduler; log {directory}"));
        }

        WriteNotes(log, notes);
        return 0;
    }

    private static string LsJson(SignedReceipt r, bool acked)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("job_id"u8, r.JobId);
            w.WriteString("status"u8, r.Receipt.Status);
            w.WriteNumber("latency_ms"u8, r.Receipt.LatencyMs);
            w.WriteNumber("finished_at"u8, r.Receipt.FinishedAt);
            w.WriteString("digest"u8, r.Digest.ToString());
            w.WriteBoolean("acked"u8, acked);
            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }

    private static void WriteNotes(ReceiptLogSnapshot log, TextWriter notes)
    {
        if (log.UnreadBytes > 0)
            notes.WriteLine($"note: the last {log.UnreadBytes} bytes of the log are not a whole record (a write in progress, or damage that `infra run` repairs when it opens the log)");
        if (log.BadReceipts > 0)
            notes.WriteLine($"warning: {log.BadReceipts} logged receipt(s) do not verify and were left out; keep the log and check the disk");
    }

    private static int RunVerify(ParsedArguments args)
    {
        if (args.Positionals.Count != 1)
            ThrowUsage("infra receipts verify: give one receipt file, or - for stdin (a receipt JSON or a job JSON with a receipt member)");
        Address? node = null;
        if (args.Value("--node") is { } n)
        {
            if (!Address.TryParse(n, out Address parsed))
                ThrowUsage($"infra receipts verify: --node '{n}' is not an address; write 0x and 40 hex digits");
            node = parsed;
        }

        ulong? chainId = null;
        if (args.Value("--chain-id") is { } c)
        {
            if (!ulong.TryParse(c, NumberStyles.None, CultureInfo.InvariantCulture, out ulong id) || id == 0)
                ThrowUsage($"infra receipts verify: --chain-id expects a positive whole number, got '{c}'");
            chainId = id;
        }

        string file = args.Positionals[0];
        return Verify(ReadDocument(file), file == "-" ? "stdin" : file, node, chainId, Console.Out, Console.Error);
    }

    /// <summary>Prints "OK …" with the signer and exits 0, or one "FAIL" line naming the reason and exits 1.</summary>
    internal static int Verify(byte[] document, string name, Address? expectedNode, ulong? expectedChainId, TextWriter output, TextWriter errors)
    {
        if (!TryFindReceipt(document, out ReadOnlyMemory<byte> receiptJson, out string? outerJobId, out string? problem))
            return Fail(errors, name, problem!);
        if (!SignedReceipt.TryParse(receiptJson.Span, out SignedReceipt? receipt, out ReceiptFormatError error))
            return Fail(errors, name, error.Message);

        Receipt r = receipt!.Receipt;
        if (outerJobId is not null && outerJobId != r.JobId)
            return Fail(errors, name, $"the job document is for job '{outerJobId}' but its receipt is for '{r.JobId}'");
        if (expectedNode is { } node && node != r.Node)
            return Fail(errors, name, $"signed by {r.Node}, not by the expected node {node}");
        if (expectedChainId is { } chain && chain != receipt.ChainId)
            return Fail(errors, name, $"signed for chain {receipt.ChainId}, not the expected chain {chain}");

        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"OK: receipt for job {r.JobId} ({r.Status}, {r.LatencyMs} ms) signed by {r.Node} on chain {receipt.ChainId}; EIP-712 digest {receipt.Digest}"));
        return 0;
    }

    private static int Fail(TextWriter errors, string name, string reason)
    {
        errors.WriteLine($"infra receipts verify: FAIL {name}: {reason}");
        return 1;
    }

    /// <summary>
    /// The receipt in <paramref name="document"/>: the member <c>receipt</c> of a job document (GET /v1/jobs/{id},
    /// `infra jobs submit --wait`), or the document itself. Only the top level is looked at.
    /// </summary>
    internal static bool TryFindReceipt(byte[] document, out ReadOnlyMemory<byte> receipt, out string? jobId, out string? problem)
    {
        receipt = default;
        jobId = null;
        problem = null;
        var reader = new Utf8JsonReader(document, new JsonReaderOptions { MaxDepth = 64 });
        bool hasEip712 = false, hasRejection = false;
        string? state = null;
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                problem = "not a JSON object; give a receipt JSON or a job JSON with a receipt member";
                return false;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                bool isReceipt = reader.ValueTextEquals("receipt"u8);
                bool isJobId = reader.ValueTextEquals("job_id"u8);
                bool isState = reader.ValueTextEquals("state"u8);
                hasEip712 |= reader.ValueTextEquals("eip712"u8);
                hasRejection |= reader.ValueTextEquals("rejection"u8);
                reader.Read();
                if (isReceipt && reader.TokenType == JsonTokenType.StartObject)
                {
                    int start = (int)reader.TokenStartIndex;
                    reader.Skip();
                    receipt = document.AsMemory(start, (int)reader.BytesConsumed - start);
                    continue;
                }

                if ((isJobId || isState) && reader.TokenType == JsonTokenType.String)
                {
                    if (isJobId)
                        jobId = reader.GetString();
                    else
                        state = reader.GetString();
                }

                reader.Skip();
            }

            while (reader.Read())
            {
            }
        }
        catch (JsonException e)
        {
            problem = $"not valid JSON ({e.Message.Split('\n')[0]})";
            return false;
        }
        catch (InvalidOperationException)
        {
            problem = "holds a string that is not valid UTF-8";
            return false;
        }

        if (!receipt.IsEmpty)
            return true;
        if (hasEip712)
        {
            // The document is a receipt itself: its own job_id is the receipt's, so nothing to compare.
            receipt = document;
            jobId = null;
            return true;
        }

        problem = hasRejection
            ? $"job '{jobId}' was rejected: the document holds a signed rejection, not a receipt"
            : state is not null
                ? $"job '{jobId}' is {state} and has no receipt yet; receipts are signed when a job finishes"
                : "no receipt here: give a receipt JSON (with eip712 and signature) or a job JSON with a receipt member";
        return false;
    }

    private static byte[] ReadDocument(string file)
    {
        try
        {
            if (!InputFile.TryReadBounded(file, MaxVerifyBytes, out byte[] bytes))
                ThrowHelper.ThrowRuntime($"infra receipts verify: FAIL {file}: over {MaxVerifyBytes} bytes; that is not a receipt or a job document");
            return bytes;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            ThrowHelper.ThrowUsage($"infra receipts verify: cannot read {file}: {e.Message}");
            throw;
        }
    }

    private static int RunBatch(ParsedArguments args)
    {
        NodeConfig config = Program.LoadConfig(args);
        string url = args.Value("--url") ?? NodeApi.UrlOf(config);
        byte[] batch = BatchAsync(config, url, Console.Error, CancellationToken.None).GetAwaiter().GetResult();
        if (args.Value("--out") is { } path)
        {
            try
            {
                File.WriteAllBytes(path, batch);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                ThrowHelper.ThrowRuntime($"infra receipts batch: cannot write {path}: {e.Message}; choose a writable --out");
            }
        }
        else
        {
            using Stream stdout = Console.OpenStandardOutput();
            stdout.Write(batch);
            stdout.Write("\n"u8);
        }

        return 0;
    }

    /// <summary>
    /// The signed batch JSON. When the agent holds the log it is the authority (and holds the key): ask it over
    /// GET /v1/receipts/batch. Otherwise read the log and sign with the node key, as the agent would.
    /// </summary>
    internal static async Task<byte[]> BatchAsync(NodeConfig config, string url, TextWriter notes, CancellationToken cancellationToken)
    {
        string directory = LogDirectory(config);
        if (ReceiptLogSnapshot.IsHeld(directory))
        {
            await notes.WriteLineAsync($"the running agent holds the receipt log in {directory}; asking it at {url}").ConfigureAwait(false);
            using NodeApi api = NodeApi.Create(url, "infra receipts batch");
            NodeApi.Answer answer = await api.GetAsync("v1/receipts/batch", cancellationToken).ConfigureAwait(false);
            if (!answer.Ok)
                ThrowHelper.ThrowRuntime($"infra receipts batch: the agent at {url} answered {answer.Describe()}");
            return answer.Body;
        }

        // The batch covers the latest receipts only (ReceiptBatcher.DefaultMaxReceipts), as the agent's does.
        ReceiptLogSnapshot log = ReceiptLogSnapshot.Read(directory, keepLatest: ReceiptBatcher.DefaultMaxReceipts);
        WriteNotes(log, notes);
        if (log.ReceiptCount == 0)
            ThrowHelper.ThrowRuntime($"infra receipts batch: no receipts in {directory} yet; run a job first");

        using NodeKey key = IdentityFile.Load(config.Node.Identity);
        var batcher = new ReceiptBatcher(new ReceiptSigner(key, config.Mesh.ChainId));
        SignedReceiptBatch? batch;
        try
        {
            batcher.TryBuild(log.Latest, out batch);
        }
        catch (ReceiptException e)
        {
            ThrowHelper.ThrowRuntime($"infra receipts batch: {e.Message}");
            throw;
        }

        await notes.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
            $"batch of {batch!.Batch.Count} receipt(s), root {batch.Batch.Root}, signed by {batch.Batch.Node} on chain {batch.ChainId}")).ConfigureAwait(false);
        return batch.ToJson();
    }

    private static int ThrowUsage(string message)
    {
        ThrowHelper.ThrowUsage(message);
        return 2;
    }
}
