using System.Buffers;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using InfraMind.Node.Configuration;
using InfraMind.Node.Crypto;
using InfraMind.Node.Crypto.Eip712;
using InfraMind.Node.Errors;
using InfraMind.Node.Jobs;
using InfraMind.Node.Jobs.Intake;

namespace InfraMind.Node.Cli;

/// <summary>
/// `infra jobs submit`: a developer's scheduler in one command. Signs a job (CONTRACT.md §3) with a scheduler key
/// file, POSTs it to a node's /v1/jobs and, with --wait, follows it to its receipt.
/// </summary>
public static class JobSubmitCommand
{
    public const string DefaultUrl = "http://127.0.0.1:9000";
    public const ulong DefaultDeadlineSeconds = 300;

    /// <summary>How often --wait asks the node; progress lines are printed at most once a second.</summary>
    internal static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(200);

    public static readonly CommandSpec Spec = new(
        "jobs submit",
        "sign a job with a scheduler key and send it to a node (a developer's scheduler in one command)",
        "infra jobs submit --key PATH --model HASH --uri URI (--input TEXT | --input-file FILE) [options]",
        [
            new("--key", "PATH", "the scheduler's key file (same format as the node key: `infra init --keygen --identity PATH`)"),
            new("--model", "HASH", "model_hash: sha256:<hex> of the bundle archive, or its CID"),
            new("--uri", "URI", "container_uri: where the bundle lives (http://, https:// or ipfs://)"),
            new("--input", "TEXT", "the job's input text"),
            new("--input-file", "FILE", "read the input from FILE (- for stdin), at most 1 MiB of UTF-8"),
            new("--input-schema", "S", "expected_schema.input: a short type or a JSON Schema (default: text)"),
            new("--output-schema", "S", "expected_schema.output (default: embedding<float>)"),
            new("--entrypoint", "E", "entrypoint (default: empty, the bundle's model.yaml decides)"),
            new("--deadline-in", "SECONDS", "the job must be done this many seconds from now (default: 300)"),
            new("--node", "ADDRESS", "the node the job is for (default: node_id from the node's GET /v1/status)"),
            new("--url", "URL", $"the node's public REST address (default: {DefaultUrl})"),
            new("--chain-id", "N", "EIP-712 chain id (default: mesh.chain_id of the configuration)"),
            new("--job-id", "ID", "job_id (default: a random one)"),
            new("--wait", null, "follow the job: progress on stderr, the final job JSON (output and receipt) on stdout; exit 0 only if it succeeded"),
            new("--json", null, "without --wait, print the node's answer as JSON instead of the job id"),
            new("--config", "PATH", "configuration file (mesh.chain_id)"),
            new("--help", null, "show this help"),
        ],
        Run);

    private const string Name = "infra jobs submit";

    /// <summary>Everything a submission needs, checked; tests build it directly.</summary>
    internal sealed record Options(
        string KeyPath, string ModelHash, string ContainerUri, string Input, string InputSchema, string OutputSchema,
        string Entrypoint, ulong DeadlineIn, Address? Node, string Url, ulong ChainId, string JobId, bool Wait, bool Json);

    private static int Run(ParsedArguments args)
    {
        Options options = ReadOptions(args);
        return RunAsync(options, Console.Out, Console.Error, CancellationToken.None).GetAwaiter().GetResult();
    }

    internal static Options ReadOptions(ParsedArguments args)
    {
        string Required(string option, string what) =>
            args.Value(option) ?? ThrowUsage<string>($"{Name}: {option} is required ({what}); see `infra jobs submit --help`");

        string key = HostPaths.Current().Expand(Required("--key", "the scheduler key file"));
        string model = Required("--model", "the bundle's model_hash");
        string uri = Required("--uri", "where the bundle lives");
        CheckText(model, "--model", JobRequest.MaxModelHashLength);
        CheckText(uri, "--uri", JobRequest.MaxUriLength);
        if (!uri.StartsWith("http://", StringComparison.Ordinal) && !uri.StartsWith("https://", StringComparison.Ordinal) && !uri.StartsWith("ipfs://", StringComparison.Ordinal))
            ThrowHelper.ThrowUsage($"{Name}: --uri '{uri}' must start with http://, https:// or ipfs://");

        string input = (args.Value("--input"), args.Value("--input-file")) switch
        {
            (null, null) => ThrowUsage<string>($"{Name}: give the input with --input TEXT or --input-file FILE"),
            ({ } text, null) => text,
            (null, { } file) => ReadInput(file),
            _ => ThrowUsage<string>($"{Name}: give --input or --input-file, not both"),
        };

        string entrypoint = args.Value("--entrypoint") ?? "";
        CheckText(entrypoint, "--entrypoint", JobRequest.MaxEntrypointLength);

        ulong deadlineIn = DefaultDeadlineSeconds;
        if (args.Value("--deadline-in") is { } d && (!ulong.TryParse(d, NumberStyles.None, CultureInfo.InvariantCulture, out deadlineIn) || deadlineIn is 0 or > 366UL * 86400))
            ThrowHelper.ThrowUsage($"{Name}: --deadline-in expects whole seconds from 1 to a year, got '{d}'");

        Address? node = null;
        if (args.Value("--node") is { } n)
        {
            if (!Address.TryParse(n, out Address parsed, out AddressError why))
                ThrowHelper.ThrowUsage($"{Name}: --node '{n}' is not an address ({why}); write 0x and 40 hex digits, as `infra status` prints the Node ID");
            node = parsed;
        }

        string jobId = args.Value("--job-id") ?? NewJobId();
        if (!JobRequest.IsValidJobId(jobId))
            ThrowHelper.ThrowUsage($"{Name}: --job-id must be 1-{JobRequest.MaxJobIdLength} characters of letters, digits and -_.:");

        ulong chainId;
        if (args.Value("--chain-id") is { } c)
        {
            if (!ulong.TryParse(c, NumberStyles.None, CultureInfo.InvariantCulture, out chainId) || chainId == 0)
                ThrowHelper.ThrowUsage($"{Name}: --chain-id expects a positive whole number, got '{c}'");
        }
        else
        {
            chainId = Program.LoadConfig(args).Mesh.ChainId;
        }

        if (args.Has("--json") && args.Has("--wait"))
            ThrowHelper.ThrowUsage($"{Name}: --wait always prints the final job as JSON; drop --json");

        return new Options(key, model, uri, input, Schema(args.Value("--input-schema") ?? "text", "--input-schema"),
            Schema(args.Value("--output-schema") ?? "embedding<float>", "--output-schema"), entrypoint, deadlineIn, node,
            args.Value("--url") ?? DefaultUrl, chainId, jobId, args.Has("--wait"), args.Has("--json"));
    }

    internal static async Task<int> RunAsync(Options o, TextWriter output, TextWriter progress, CancellationToken cancellationToken)
    {
        using NodeApi api = NodeApi.Create(o.Url, Name);
        Address node = o.Node ?? await NodeIdAsync(api, cancellationToken).ConfigureAwait(false);
        ulong deadline = (ulong)DateTimeOffset.UtcNow.ToUnixTimeSeconds() + o.DeadlineIn;
        JobRequest job = Sign(o, node, deadline);

        NodeApi.Answer accepted = await api.PostJsonAsync("v1/jobs", ToJson(job), cancellationToken).ConfigureAwait(false);
        if (!accepted.Ok)
            ThrowHelper.ThrowRuntime($"{Name}: the node refused job '{job.JobId}': {accepted.Describe()}");

        if (!o.Wait)
        {
            await output.WriteLineAsync(o.Json ? Encoding.UTF8.GetString(accepted.Body) : job.JobId).ConfigureAwait(false);
            return 0;
        }

        await progress.WriteLineAsync($"job {job.JobId}: accepted by {node}, signed by scheduler {job.Scheduler} (deadline in {o.DeadlineIn} s)").ConfigureAwait(false);
        return await FollowAsync(api, job.JobId, DateTimeOffset.FromUnixTimeSeconds((long)deadline), output, progress, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Signs the job with the scheduler key; the key's secret never leaves <see cref="NodeKey"/>.</summary>
    internal static JobRequest Sign(Options o, Address node, ulong deadline)
    {
        NodeKey key;
        try
        {
            key = IdentityFile.Load(o.KeyPath);
        }
        catch (InfraException e) when (e.Kind == FailureKind.Identity)
        {
            // IdentityFile speaks of node.identity; here the file is the scheduler's --key.
            ThrowHelper.ThrowIdentity($"{Name}: --key: {e.Message}", e);
            throw;
        }

        using (key)
        {
            var draft = new JobRequest(o.JobId, o.ModelHash, o.ContainerUri, o.Entrypoint, o.InputSchema, o.OutputSchema, o.Input, deadline, node, key.Address, []);
            Hash32 digest = new Eip712Domain(o.ChainId).Digest(draft.ToStruct());
            byte[] signature = new byte[EthSignature.Size];
            key.Sign(digest, signature);
            return draft with { Signature = signature };
        }
    }

    /// <summary>The job's JSON as CONTRACT.md §3 writes it; a JSON Schema goes as an object whose compact text was signed.</summary>
    internal static byte[] ToJson(JobRequest job)
    {
        var buffer = new ArrayBufferWriter<byte>(1024 + (job.Input.Length * 2));
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("job_id"u8, job.JobId);
            w.WriteString("model_hash"u8, job.ModelHash);
            w.WriteString("container_uri"u8, job.ContainerUri);
            w.WriteString("entrypoint"u8, job.Entrypoint);
            w.WriteStartObject("expected_schema"u8);
            WriteSchema(w, "input"u8, job.InputSchema);
            WriteSchema(w, "output"u8, job.OutputSchema);
            w.WriteEndObject();
            w.WriteString("input"u8, job.Input);
            w.WriteNumber("deadline"u8, job.Deadline);
            w.WriteString("node"u8, job.Node.ToString());
            w.WriteString("scheduler"u8, job.Scheduler.ToString());
            w.WriteString("signature"u8, Hex.Encode(job.Signature));
            w.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    private static void WriteSchema(Utf8JsonWriter w, ReadOnlySpan<byte> name, string schema)
    {
        if (schema.StartsWith('{'))
        {
            w.WritePropertyName(name);
            w.WriteRawValue(schema);
        }
        else
        {
            w.WriteString(name, schema);
        }
    }

    /// <summary>Polls GET /v1/jobs/{id} until the job is final; state changes and prepare progress go to <paramref name="progress"/>.</summary>
    internal static async Task<int> FollowAsync(NodeApi api, string jobId, DateTimeOffset deadline, TextWriter output, TextWriter progress, CancellationToken cancellationToken)
    {
        string path = "v1/jobs/" + Uri.EscapeDataString(jobId);
        string? last = null;
        long lastProgressTick = 0;

        // The node must sign a receipt by the deadline; a little slack covers clocks and the last poll.
        DateTimeOffset giveUp = deadline + TimeSpan.FromSeconds(30);
        while (true)
        {
            NodeApi.Answer answer = await api.GetAsync(path, cancellationToken).ConfigureAwait(false);
            if (!answer.Ok)
                ThrowHelper.ThrowRuntime($"{Name}: following job '{jobId}' failed: {answer.Describe()}");
            NodeView view = NodeView.Parse(answer.Body);
            if (!view.IsJson || view.State is null)
                ThrowHelper.ThrowRuntime($"{Name}: the node's answer for job '{jobId}' is not a job (no state); is --url a node?");

            if (view.State != last)
            {
                string change = last is null ? view.State : $"{last} -> {view.State}";
                string detail = view.Message is { } m ? $" ({m})" : "";
                await progress.WriteLineAsync($"job {jobId}: {change}{detail}").ConfigureAwait(false);
                last = view.State;
            }

            if (view.Progress is { } p && Environment.TickCount64 - lastProgressTick >= 1000)
            {
                lastProgressTick = Environment.TickCount64;
                await progress.WriteLineAsync($"job {jobId}: {view.State}: {DescribeProgress(p)}").ConfigureAwait(false);
            }

            if (JobStates.TryParse(view.State, out JobState state) && state.IsFinal())
            {
                await output.WriteLineAsync(Encoding.UTF8.GetString(answer.Body)).ConfigureAwait(false);
                if (view.State == "succeeded")
                    return 0;
                string why = view.Reason is { } r ? $"{r}: " : "";
                await progress.WriteLineAsync($"{Name}: job '{jobId}' ended {view.State}: {why}{view.Message ?? "no message"}").ConfigureAwait(false);
                return 1;
            }

            if (DateTimeOffset.UtcNow > giveUp)
                ThrowHelper.ThrowRuntime($"{Name}: job '{jobId}' is still {view.State} past its deadline; see `infra jobs` on the node and its log");
            await Task.Delay(PollInterval, cancellationToken).ConfigureAwait(false);
        }
    }

    internal static string DescribeProgress(ProgressView p)
    {
        string total = p.TotalBytes is { } t ? $" of {Megabytes(t)}" : "";
        return string.Create(CultureInfo.InvariantCulture, $"{p.Phase} {Megabytes(p.Bytes)}{total}, {p.Blocks} blocks, {p.BytesPerSecond / 1e6:0.0} MB/s");
    }

    private static string Megabytes(long bytes) => (bytes / 1e6).ToString("0.0", CultureInfo.InvariantCulture) + " MB";

    private static async Task<Address> NodeIdAsync(NodeApi api, CancellationToken cancellationToken)
    {
        NodeApi.Answer status = await api.GetAsync("v1/status", cancellationToken).ConfigureAwait(false);
        if (!status.Ok)
            ThrowHelper.ThrowRuntime($"{Name}: GET /v1/status failed ({status.Describe()}); pass the node's ID with --node");
        NodeView view = NodeView.Parse(status.Body);
        Address node = default;
        if (view.NodeId is not { } id || !Address.TryParse(id, out node))
            ThrowHelper.ThrowRuntime($"{Name}: GET /v1/status at {api.BaseUrl} has no valid node_id; pass the node's ID with --node");
        return node;
    }

    /// <summary>A short type as given, or a JSON Schema's compact text: exactly what the node reconstructs and checks.</summary>
    internal static string Schema(string text, string option)
    {
        if (!text.TrimStart().StartsWith('{'))
        {
            CheckText(text, option, JobRequest.MaxSchemaBytes);
            return text;
        }

        byte[] utf8 = Encoding.UTF8.GetBytes(text);
        if (utf8.Length > JobRequest.MaxSchemaBytes)
            ThrowHelper.ThrowUsage($"{Name}: {option} is {utf8.Length} bytes; a schema may be at most {JobRequest.MaxSchemaBytes}");
        var reader = new Utf8JsonReader(utf8, new JsonReaderOptions { MaxDepth = 64 });
        try
        {
            // Reading to the end also refuses anything after the object.
            while (reader.Read())
            {
            }
        }
        catch (JsonException e)
        {
            ThrowHelper.ThrowUsage($"{Name}: {option} looks like a JSON Schema but is not valid JSON ({e.Message.Split('\n')[0]})");
        }

        return CompactJson.ToCompactString(utf8.AsSpan().Trim(" \t\r\n"u8));
    }

    private static void CheckText(string value, string option, int maxChars)
    {
        if (value.Length > maxChars)
            ThrowHelper.ThrowUsage($"{Name}: {option} is longer than {maxChars} characters");
        if (value.AsSpan().ContainsAnyInRange('\0', '\x1f'))
            ThrowHelper.ThrowUsage($"{Name}: {option} contains control characters");
    }

    private static string ReadInput(string file)
    {
        const int limit = Jobs.Intake.JobJson.DefaultMaxBytes - (64 * 1024); // leave room for the rest of the job document
        byte[] bytes;
        try
        {
            if (!InputFile.TryReadBounded(file, limit, out bytes))
                ThrowHelper.ThrowUsage($"{Name}: --input-file {file} is over {limit} bytes; a job's input must fit in the node's 1 MiB job document");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            ThrowHelper.ThrowUsage($"{Name}: cannot read --input-file {file}: {e.Message}");
            throw;
        }

        try
        {
            return new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true).GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            ThrowHelper.ThrowUsage($"{Name}: --input-file {file} is not UTF-8 text; a job's input is text (send binary data base64-encoded)");
            throw;
        }
    }

    /// <summary>Like the contract's example ids (a6b4-23fa), with 48 random bits so two runs do not collide.</summary>
    internal static string NewJobId()
    {
        Span<byte> random = stackalloc byte[6];
        RandomNumberGenerator.Fill(random);
        string hex = Convert.ToHexStringLower(random);
        return $"{hex[..4]}-{hex[4..8]}-{hex[8..]}";
    }

    private static T ThrowUsage<T>(string message) => throw new InfraException(FailureKind.Usage, message);
}
