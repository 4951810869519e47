using System.Text.Json;
using InfraMind.Node.Crypto;
using InfraMind.Node.Crypto.Eip712;
using InfraMind.Node.Jobs.Intake;

namespace InfraMind.Node.JobBench;

/// <summary>
/// The bench's scheduler: a fixed key that signs jobs as CONTRACT.md §3 says (EIP-712 Job struct through
/// <see cref="Eip712Domain.Digest"/>, <see cref="NodeKey.Sign"/>) and writes them as the JSON a scheduler posts.
/// Signing happens before a request is timed, so it never counts against the node.
/// </summary>
internal sealed class Scheduler : IDisposable
{
    private readonly NodeKey _key;
    private readonly Eip712Domain _domain;

    public Scheduler(ulong chainId)
    {
        // A fixed key: the node under test trusts exactly this address (mesh.trusted_schedulers).
        byte[] secret = new byte[32];
        secret[0] = 0x6a;
        secret[31] = 0x0b;
        if (!NodeKey.TryCreate(secret, out NodeKey? key))
            throw new InvalidOperationException("the bench's fixed scheduler key is not a valid secp256k1 key");
        _key = key!;
        _domain = new Eip712Domain(chainId);
    }

    public Address Address => _key.Address;

    /// <summary>A signed job as JSON bytes, ready to POST.</summary>
    public byte[] Job(Address node, string jobId, string modelHash, string containerUri, string entrypoint, string input, ulong deadline)
    {
        var draft = new JobRequest(jobId, modelHash, containerUri, entrypoint, "text", "embedding<float>", input, deadline, node, _key.Address, []);
        Hash32 digest = _domain.Digest(draft.ToStruct());
        byte[] signature = new byte[EthSignature.Size];
        _key.Sign(digest, signature);
        return ToJson(draft with { Signature = signature });
    }

    private static byte[] ToJson(JobRequest job)
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
            w.WriteString("input", job.InputSchema);
            w.WriteString("output", job.OutputSchema);
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

    public void Dispose() => _key.Dispose();
}
