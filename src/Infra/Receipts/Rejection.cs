using System.Buffers;
using System.Text.Json;
using InfraMind.Node.Crypto;
using InfraMind.Node.Crypto.Eip712;

namespace InfraMind.Node.Receipts;

/// <summary>The node's refusal of a job (CONTRACT.md §3, §5): the job, why, and when (Unix seconds).</summary>
public sealed record Rejection(
    string JobId,
    Hash32 JobHash,
    string Reason,
    Address Node,
    ulong Timestamp)
{
    public RejectionStruct ToStruct() => new(JobId, JobHash, Reason, Node, Timestamp);

    internal string[] ToValues() => [JobId, JobHash.ToString(), Reason, Node.ToString(), Receipt.U(Timestamp)];

    internal static Rejection FromValues(string[] v) => new(v[0], Receipt.H(v[1]), v[2], Receipt.A(v[3]), Receipt.P(v[4]));
}

/// <summary>A rejection with its EIP-712 digest and signature; JSON like a receipt's, with the Rejection type.</summary>
public sealed class SignedRejection
{
    private readonly byte[] _signature;

    internal SignedRejection(Rejection rejection, ulong chainId, Hash32 digest, byte[] signature)
    {
        Rejection = rejection;
        ChainId = chainId;
        Digest = digest;
        _signature = signature;
    }

    public Rejection Rejection { get; }

    public string JobId => Rejection.JobId;

    public ulong ChainId { get; }

    public Hash32 Digest { get; }

    public ReadOnlySpan<byte> Signature => _signature;

    /// <summary>
    /// <c>{ job_id, job_hash, reason, node, node_id, timestamp, signature, eip712 }</c>, compact UTF-8, written fresh
    /// each call, as <see cref="SignedReceipt.ToJson"/>: a caller with several readers shares the array.
    /// </summary>
    public byte[] ToJson() => TypedDataJson.ToBytes(WriteJson, 1024);

    public void WriteJson(Utf8JsonWriter json)
    {
        string[] values = Rejection.ToValues();
        json.WriteStartObject();
        TypedDataJson.WriteSigned(json, SignedTypes.Rejection, values, _signature, ChainId, nodeIdAlias: true);
        json.WriteEndObject();
    }

    /// <summary>Strict read plus signature check against <c>node</c>, as <see cref="SignedReceipt.TryParse"/>.</summary>
    public static bool TryParse(ReadOnlySpan<byte> utf8, out SignedRejection? rejection, out ReceiptFormatError error) =>
        TryParse(utf8, verifySignature: true, out rejection, out error);

    /// <summary>A rejection this node wrote itself, read strictly without recovering its signer: see <see cref="SignedReceipt.TryParseOwn"/>.</summary>
    internal static bool TryParseOwn(ReadOnlySpan<byte> utf8, out SignedRejection? rejection) =>
        TryParse(utf8, verifySignature: false, out rejection, out _);

    private static bool TryParse(ReadOnlySpan<byte> utf8, bool verifySignature, out SignedRejection? rejection, out ReceiptFormatError error)
    {
        rejection = null;
        if (!TypedDataJson.TryRead(utf8, SignedTypes.Rejection, nodeIdAlias: true, out string[] values, out ulong chainId, out byte[] signature, out error))
            return false;

        Rejection parsed = Rejection.FromValues(values);
        Hash32 digest = new Eip712Domain(chainId).Digest(parsed.ToStruct());
        if (verifySignature && !SignedReceipt.RecoversToNode(digest, signature, parsed.Node, out error))
            return false;

        rejection = new SignedRejection(parsed, chainId, digest, signature);
        return true;
    }
}
