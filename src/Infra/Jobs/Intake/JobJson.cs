using System.Buffers;
using System.Text.Json;
using InfraMind.Node.Crypto;

namespace InfraMind.Node.Jobs.Intake;

/// <summary>
/// Reads a job's JSON (CONTRACT.md §3) strictly: every field once, with its type and size; no unknown
/// fields; nothing after the object. Bad input is a <see cref="JobRejectedException"/> naming the field.
/// </summary>
public static class JobJson
{
    /// <summary>The whole job document's limit; the input is most of it.</summary>
    public const int DefaultMaxBytes = 1 << 20;

    private const int MaxDepth = 64;

    public static JobRequest Parse(ReadOnlySpan<byte> json, int maxBytes = DefaultMaxBytes)
    {
        if (json.Length > maxBytes)
            throw Malformed(RejectReason.TooLarge, $"the job is {json.Length} bytes; this node accepts at most {maxBytes}");
        if (json.Length == 0)
            throw Malformed("the body is empty: send the signed job as a JSON object");

        var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = MaxDepth, CommentHandling = JsonCommentHandling.Disallow });
        try
        {
            return Read(ref reader, json);
        }
        catch (JsonException e)
        {
            throw Malformed($"the job is not valid JSON: {FirstLine(e.Message)}");
        }
        catch (InvalidOperationException e)
        {
            // Utf8JsonReader.GetString throws this for invalid UTF-8 or lone surrogates in a string.
            throw Malformed($"the job holds a string that is not valid text: {FirstLine(e.Message)}");
        }
    }

    private static JobRequest Read(ref Utf8JsonReader reader, ReadOnlySpan<byte> json)
    {
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            throw Malformed("the job must be a JSON object");

        string? jobId = null, modelHash = null, containerUri = null, entrypoint = null, input = null;
        string? inputSchema = null, outputSchema = null;
        ulong? deadline = null;
        Address? node = null, scheduler = null;
        byte[]? signature = null;

        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            JobField field = FieldOf(ref reader);
            if (!reader.Read())
                throw Malformed("the job ends in the middle of a field");
            switch (field)
            {
                case JobField.JobId:
                    Once(jobId, "job_id");
                    jobId = ReadString(ref reader, "job_id", JobRequest.MaxJobIdLength);
                    if (!JobRequest.IsValidJobId(jobId))
                        throw Malformed($"job_id '{Printable(jobId)}' must be 1-{JobRequest.MaxJobIdLength} characters of letters, digits and -_.:");
                    break;
                case JobField.ModelHash:
                    Once(modelHash, "model_hash");
                    modelHash = ReadString(ref reader, "model_hash", JobRequest.MaxModelHashLength);
                    break;
                case JobField.ContainerUri:
                    Once(containerUri, "container_uri");
                    containerUri = ReadString(ref reader, "container_uri", JobRequest.MaxUriLength);
                    break;
                case JobField.Entrypoint:
                    Once(entrypoint, "entrypoint");
                    entrypoint = ReadString(ref reader, "entrypoint", JobRequest.MaxEntrypointLength, allowEmpty: true);
                    break;
                case JobField.ExpectedSchema:
                    Once(inputSchema, "expected_schema");
                    (inputSchema, outputSchema) = ReadSchemas(ref reader, json);
                    break;
                case JobField.Input:
                    Once(input, "input");
                    input = ReadString(ref reader, "input", int.MaxValue, allowEmpty: true);
                    break;
                case JobField.Deadline:
                    if (deadline is not null)
                        throw Duplicate("deadline");
                    if (reader.TokenType != JsonTokenType.Number || !reader.TryGetUInt64(out ulong d))
                        throw Malformed("deadline must be a whole number of Unix seconds");
                    deadline = d;
                    break;
                case JobField.Node:
                    if (node is not null)
                        throw Duplicate("node");
                    node = ReadAddress(ref reader, "node");
                    break;
                case JobField.Scheduler:
                    if (scheduler is not null)
                        throw Duplicate("scheduler");
                    scheduler = ReadAddress(ref reader, "scheduler");
                    break;
                case JobField.Signature:
                    if (signature is not null)
                        throw Duplicate("signature");
                    signature = ReadSignature(ref reader);
                    break;
            }
        }

        if (reader.TokenType != JsonTokenType.EndObject)
            throw Malformed("the job object is not closed");
        if (reader.Read())
            throw Malformed("there is more after the job object: send exactly one JSON object");

        return new JobRequest(
            jobId ?? throw Missing("job_id"),
            modelHash ?? throw Missing("model_hash"),
            containerUri ?? throw Missing("container_uri"),
            entrypoint ?? throw Missing("entrypoint"),
            inputSchema ?? throw Missing("expected_schema"),
            outputSchema!,
            input ?? throw Missing("input"),
            deadline ?? throw Missing("deadline"),
            node ?? throw Missing("node"),
            scheduler ?? throw Missing("scheduler"),
            signature ?? throw Missing("signature"));
    }

    private enum JobField
    {
        JobId,
        ModelHash,
        ContainerUri,
        Entrypoint,
        ExpectedSchema,
        Input,
        Deadline,
        Node,
        Scheduler,
        Signature,
    }

    private static JobField FieldOf(ref Utf8JsonReader reader)
    {
        if (reader.ValueTextEquals("job_id"u8)) return JobField.JobId;
        if (reader.ValueTextEquals("model_hash"u8)) return JobField.ModelHash;
        if (reader.ValueTextEquals("container_uri"u8)) return JobField.ContainerUri;
        if (reader.ValueTextEquals("entrypoint"u8)) return JobField.Entrypoint;
        if (reader.ValueTextEquals("expected_schema"u8)) return JobField.ExpectedSchema;
        if (reader.ValueTextEquals("input"u8)) return JobField.Input;
        if (reader.ValueTextEquals("deadline"u8)) return JobField.Deadline;
        if (reader.ValueTextEquals("node"u8)) return JobField.Node;
        if (reader.ValueTextEquals("scheduler"u8)) return JobField.Scheduler;
        if (reader.ValueTextEquals("signature"u8)) return JobField.Signature;
        string name = reader.ValueIsEscaped || reader.ValueSpan.Length > 64 ? "(unprintable)" : Printable(reader.GetString()!);
        throw Malformed($"unknown field '{name}': a job has job_id, model_hash, container_uri, entrypoint, expected_schema, input, deadline, node, scheduler and signature");
    }

    private static (string Input, string Output) ReadSchemas(ref Utf8JsonReader reader, ReadOnlySpan<byte> json)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
            throw Malformed("expected_schema must be an object with input and output");
        string? input = null, output = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            bool isInput = reader.ValueTextEquals("input"u8);
            if (!isInput && !reader.ValueTextEquals("output"u8))
                throw Malformed("expected_schema has only input and output");
            string name = isInput ? "expected_schema.input" : "expected_schema.output";
            if ((isInput ? input : output) is not null)
                throw Duplicate(name);
            reader.Read();
            string schema = ReadSchema(ref reader, json, name);
            if (isInput)
                input = schema;
            else
                output = schema;
        }

        if (input is null)
            throw Missing("expected_schema.input");
        if (output is null)
            throw Missing("expected_schema.output");
        return (input, output);
    }

    /// <summary>A short type is its string; a JSON Schema document is its compact JSON text, which is what was signed.</summary>
    private static string ReadSchema(ref Utf8JsonReader reader, ReadOnlySpan<byte> json, string name)
    {
        if (reader.TokenType == JsonTokenType.String)
            return ReadString(ref reader, name, JobRequest.MaxSchemaBytes);
        if (reader.TokenType != JsonTokenType.StartObject)
            throw Malformed($"{name} must be a short type such as \"text\" or a JSON Schema object");
        int start = (int)reader.TokenStartIndex;
        reader.Skip();
        int end = (int)reader.BytesConsumed;
        if (end - start > JobRequest.MaxSchemaBytes)
            throw Malformed(RejectReason.TooLarge, $"{name} is {end - start} bytes; a schema may be at most {JobRequest.MaxSchemaBytes}");
        return CompactJson.ToCompactString(json[start..end]);
    }

    private static string ReadString(ref Utf8JsonReader reader, string name, int maxChars, bool allowEmpty = false)
    {
        if (reader.TokenType != JsonTokenType.String)
            throw Malformed($"{name} must be a string");
        if (reader.ValueSpan.Length > maxChars && !reader.ValueIsEscaped)
            throw Malformed($"{name} is longer than {maxChars} characters");
        string value = reader.GetString()!;
        if (value.Length > maxChars)
            throw Malformed($"{name} is longer than {maxChars} characters");
        if (!allowEmpty && value.Length == 0)
            throw Malformed($"{name} is empty");
        if (name != "input" && value.AsSpan().ContainsAnyInRange('\0', '\x1f'))
            throw Malformed($"{name} contains control characters");
        return value;
    }

    private static Address ReadAddress(ref Utf8JsonReader reader, string name)
    {
        if (reader.TokenType != JsonTokenType.String || reader.ValueIsEscaped || reader.ValueSpan.Length != Address.TextLength)
            throw Malformed($"{name} must be a 0x-prefixed 20-byte hex address");
        Span<char> text = stackalloc char[Address.TextLength];
        for (int i = 0; i < text.Length; i++)
            text[i] = (char)reader.ValueSpan[i];
        if (!Address.TryParse(text, out Address address, out AddressError error))
            throw Malformed($"{name} is not a valid address ({error})");
        return address;
    }

    private static byte[] ReadSignature(ref Utf8JsonReader reader)
    {
        const int textLength = 2 + (EthSignature.Size * 2);
        if (reader.TokenType != JsonTokenType.String || reader.ValueIsEscaped || reader.ValueSpan.Length != textLength)
            throw Malformed($"signature must be 0x followed by {EthSignature.Size * 2} hex characters (65 bytes r‖s‖v)");
        Span<char> text = stackalloc char[textLength];
        for (int i = 0; i < text.Length; i++)
            text[i] = (char)reader.ValueSpan[i];
        byte[] signature = new byte[EthSignature.Size];
        if (!text.StartsWith("0x") || !Hex.TryDecode(text[2..], signature))
            throw Malformed("signature is not hex");
        return signature;
    }

    private static void Once(string? seen, string name)
    {
        if (seen is not null)
            throw Duplicate(name);
    }

    private static string Printable(string s) =>
        s.Length > 64 || s.AsSpan().ContainsAnyInRange('\0', '\x1f') ? "(unprintable)" : s;

    private static string FirstLine(string s)
    {
        int newline = s.IndexOfAny(['\r', '\n']);
        return newline < 0 ? s : s[..newline];
    }

    private static JobRejectedException Missing(string name) => Malformed($"the job has no {name}");

    private static JobRejectedException Duplicate(string name) => Malformed($"{name} appears twice: each field may appear once");

    private static JobRejectedException Malformed(string message) => new(RejectReason.Malformed, message);

    private static JobRejectedException Malformed(RejectReason reason, string message) => new(reason, message);
}

/// <summary>
/// JSON text with the whitespace between tokens removed and string contents kept byte for byte: the form in
/// which a JSON Schema is signed (what JSON.stringify prints for a schema written without escapes).
/// </summary>
public static class CompactJson
{
    public static string ToCompactString(ReadOnlySpan<byte> json)
    {
        byte[] rented = ArrayPool<byte>.Shared.Rent(json.Length);
        try
        {
            int length = 0;
            bool inString = false, escaped = false;
            foreach (byte b in json)
            {
                if (inString)
                {
                    rented[length++] = b;
                    if (escaped)
                        escaped = false;
                    else if (b == '\\')
                        escaped = true;
                    else if (b == '"')
                        inString = false;
                }
                else if (b is not ((byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n'))
                {
                    rented[length++] = b;
                    inString = b == '"';
                }
            }

            return System.Text.Encoding.UTF8.GetString(rented, 0, length);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }
}
