using System.Text;
using System.Text.Json;
using InfraMind.Node.Crypto;
using InfraMind.Node.Crypto.Eip712;
using InfraMind.Node.Jobs.Intake;

namespace InfraMind.Node.Tests.Support;

/// <summary>A test scheduler: a key that signs jobs as CONTRACT.md §3 says, and writes them as JSON.</summary>
public sealed class SignedJobs : IDisposable
{
    private readonly NodeKey _key;

    public SignedJobs(ulong chainId = 31337, byte seed = 7)
    {
        byte[] secret = new byte[32];
        secret[31] = seed;
        secret[0] = 0x42;
        Assert.True(NodeKey.TryCreate(secret, out NodeKey? key));
        _key = key!;
        Domain = new Eip712Domain(chainId);
    }

    public Address Scheduler => _key.Address;

    public Eip712Domain Domain { get; }

    public JobRequest Sign(JobRequest draft)
    {
        Hash32 digest = Domain.Digest(draft.ToStruct());
        byte[] signature = new byte[EthSignature.Size];
        _key.Sign(digest, signature);
        return draft with { Scheduler = Scheduler, Signature = signature };
    }

    public JobRequest Job(Address node, string jobId = "job-1", string input = "hello", ulong? deadline = null,
        string modelHash = "sha256:0000000000000000000000000000000000000000000000000000000000000000",
        string inputSchema = "text", string outputSchema = "embedding<float>", string containerUri = "http://127.0.0.1/bundle.tar")
    {
        ulong due = deadline ?? (ulong)DateTimeOffset.UtcNow.AddMinutes(5).ToUnixTimeSeconds();
        return Sign(new JobRequest(jobId, modelHash, containerUri, "serve", inputSchema, outputSchema, input, due, node, Scheduler, []));
    }

    /// <summary>The job's JSON as a scheduler sends it; a schema that starts with '{' is written as an object.</summary>
    public static byte[] ToJson(JobRequest job)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("job_id", job.JobId);
            w.WriteString("model_hash", job.ModelHash);
            w.WriteString("container_uri", job.ContainerUri);
            w.WriteString("entrypoint", job.Entrypoint);
            w.WriteStartObject("expected_schema");
            WriteSchema(w, "input", job.InputSchema);
            WriteSchema(w, "output", job.OutputSchema);
            w.WriteEndObject();
            w.WriteString("input", job.Input);
            w.WriteNumber("deadline", job.Deadline);
            w.WriteString("node", job.Node.ToString());
            w.WriteString("scheduler", job.Scheduler.ToString());
            w.WriteString("signature", Hex.Encode(job.Signature));
            w.WriteEndObject();
        }

        return buffer.ToArray();
    }

    public static string ToJsonText(JobRequest job) => Encoding.UTF8.GetString(ToJson(job));

    private static void WriteSchema(Utf8JsonWriter w, string name, string schema)
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

    public void Dispose() => _key.Dispose();
}
