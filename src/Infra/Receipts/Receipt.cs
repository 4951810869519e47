using System.Buffers;
using System.Globalization;
using System.Text.Json;
using InfraMind.Node.Crypto;
using InfraMind.Node.Crypto.Eip712;

namespace InfraMind.Node.Receipts;

/// <summary>The final job states a receipt may carry (CONTRACT.md §3); anything else is refused at signing and parsing.</summary>
public static class ReceiptStatus
{
    public const string Succeeded = "succeeded";
    public const string OutputInvalid = "output_invalid";
    public const string Failed = "failed";
    public const string TimedOut = "timed_out";
    public const string Cancelled = "cancelled";

    public static bool IsFinal(string status) =>
        status is Succeeded or OutputInvalid or Failed or TimedOut or Cancelled;
}

/// <summary>
/// What the node attests about one job (CONTRACT.md §7). Times are Unix seconds except
/// <see cref="LatencyMs"/> and <see cref="CpuMs"/>; <see cref="Node"/> is set by the signer.
/// </summary>
public sealed record Receipt(
    string JobId,
    Hash32 JobHash,
    string ModelRef,
    Hash32 ImageDigest,
    Hash32 OutputHash,
    string Status,
    ulong LatencyMs,
    ulong StartedAt,
    ulong FinishedAt,
    ulong CpuMs,
    ulong PeakMemoryBytes,
    Address Node,
    ulong Timestamp)
{
    public ReceiptStruct ToStruct() => new(JobId, JobHash, ModelRef, ImageDigest, OutputHash, Status, LatencyMs, StartedAt, FinishedAt, CpuMs, PeakMemoryBytes, Node, Timestamp);

    // Canonical text in SignedTypes.Receipt order: the JSON writer and reader work on these.
    internal string[] ToValues() =>
    [
        JobId, JobHash.ToString(), ModelRef, ImageDigest.ToString(), OutputHash.ToString(), Status,
        U(LatencyMs), U(StartedAt), U(FinishedAt), U(CpuMs), U(PeakMemoryBytes), Node.ToString(), U(Timestamp),
    ];

    internal static Receipt FromValues(string[] v) => new(
        v[0], H(v[1]), v[2], H(v[3]), H(v[4]), v[5], P(v[6]), P(v[7]), P(v[8]), P(v[9]), P(v[10]), A(v[11]), P(v[12]));

    internal static string U(ulong value) => value.ToString(CultureInfo.InvariantCulture);

    internal static ulong P(string value) => ulong.Parse(value, NumberStyles.None, CultureInfo.InvariantCulture);

    internal static Hash32 H(string value) => Hash32.TryParse(value, out Hash32 h) ? h : throw new FormatException(value);

    internal static Address A(string value) => Address.TryParse(value, out Address a) ? a : throw new FormatException(value);
}

/// <summary>A receipt with its EIP-712 digest under <see cref="ChainId"/> and the node's 65-byte signature.</summary>
public sealed class SignedReceipt
{
    private readonly byte[] _signature;

    internal SignedReceipt(Receipt receipt, ulong chainId, Hash32 digest, byte[] signature)
    {
        Receipt = receipt;
        ChainId = chainId;
        Digest = digest;
        _signature = signature;
    }

    public Receipt Receipt { get; }

    public string JobId => Receipt.JobId;

    public ulong ChainId { get; }

    /// <summary>The EIP-712 digest that was signed; also this receipt's leaf value in a batch.</summary>
    public Hash32 Digest { get; }

    public ReadOnlySpan<byte> Signature => _signature;

    /// <summary>
    /// The receipt JSON of CONTRACT.md §7, compact UTF-8, written fresh each call (a cached copy kept about 1.5 KB per
    /// job alive while the log held its receipts; bench/jobs.sh --only soak). A caller with several readers writes it
    /// once and shares the array.
    /// </summary>
    public byte[] ToJson() => TypedDataJson.ToBytes(WriteJson, 2048);

    public void WriteJson(Utf8JsonWriter json)
    {
        string[] values = Receipt.ToValues();
        json.WriteStartObject();
        TypedDataJson.WriteSigned(json, SignedTypes.Receipt, values, _signature, ChainId, nodeIdAlias: true);
        json.WriteEndObject();
    }

    /// <summary>
    /// Reads a receipt strictly (see <see cref="TypedDataJson"/>) and checks that its signature recovers to its
    /// <c>node</c> under the chain id it names. Whether that chain id and node are the expected ones is the
    /// caller's question.
    /// </summary>
    public static bool TryParse(ReadOnlySpan<byte> utf8, out SignedReceipt? receipt, out ReceiptFormatError error) =>
        TryParse(utf8, verifySignature: true, out receipt, out error);

    /// <summary>
    /// Reads a receipt this node wrote itself (its receipt log, whose every record a start checked once: see
    /// <see cref="VerifiedPrefix"/>; or its own pipeline's JSON) strictly, without recovering the signer again: a
    /// recovery is about 250 µs, and reading 4,096 receipts back for a batch paid it 4,096 times. The log's CRC catches
    /// a record the disk changed.
    /// </summary>
    internal static bool TryParseOwn(ReadOnlySpan<byte> utf8, out SignedReceipt? receipt) =>
        TryParse(utf8, verifySignature: false, out receipt, out _);

    private static bool TryParse(ReadOnlySpan<byte> utf8, bool verifySignature, out SignedReceipt? receipt, out ReceiptFormatError error)
    {
        receipt = null;
        if (!TypedDataJson.TryRead(utf8, SignedTypes.Receipt, nodeIdAlias: true, out string[] values, out ulong chainId, out byte[] signature, out error))
            return false;
        if (!ReceiptStatus.IsFinal(values[5]))
        {
            error = new ReceiptFormatError(ReceiptFormatReason.BadValue, "status");
            return false;
        }

        Receipt parsed = Receipt.FromValues(values);
        Hash32 digest = new Eip712Domain(chainId).Digest(parsed.ToStruct());
        if (verifySignature && !RecoversToNode(digest, signature, parsed.Node, out error))
            return false;

        receipt = new SignedReceipt(parsed, chainId, digest, signature);
        return true;
    }

    /// <summary>Whether <paramref name="signature"/> over <paramref name="digest"/> recovers to <paramref name="node"/>: the signature check of receipts and rejections alike.</summary>
    internal static bool RecoversToNode(in Hash32 digest, byte[] signature, Address node, out ReceiptFormatError error)
    {
        error = default;
        if (!EthSignature.TryRecover(digest, signature, out Address signer, out SignatureError why))
        {
            error = new ReceiptFormatError(ReceiptFormatReason.Signature, $"is invalid ({why})");
            return false;
        }

        if (signer != node)
        {
            error = new ReceiptFormatError(ReceiptFormatReason.Signature, $"recovers to {signer}, not to node {node}");
            return false;
        }

        return true;
    }
}

/// <summary>
/// Signs receipts, rejections and batch roots with the node key under the configured <c>mesh.chain_id</c> domain.
/// The signer owns the node field: whatever the caller put there is replaced by the key's address.
/// </summary>
public sealed class ReceiptSigner
{
    private readonly NodeKey _key;
    private readonly Eip712Domain _domain;
    private readonly NonceSource _nonces;

    /// <param name="nonces">
    /// <see cref="NonceSource.Precomputed"/> for the agent, where a signature sits between a job's output and its
    /// answer: it starts the key's nonce pool (<see cref="NodeKey.StartNoncePool"/>, stopped when the key is
    /// disposed). <see cref="NonceSource.Deterministic"/> signs with RFC 6979, the same bytes for the same receipt.
    /// </param>
    public ReceiptSigner(NodeKey key, ulong chainId, NonceSource nonces = NonceSource.Deterministic)
    {
        _key = key;
        _domain = new Eip712Domain(chainId);
        _nonces = nonces;
        if (nonces == NonceSource.Precomputed)
            key.StartNoncePool();
    }

    public Address Node => _key.Address;

    public ulong ChainId => _domain.ChainId;

    public SignedReceipt Sign(Receipt receipt)
    {
        Receipt own = receipt with { Node = _key.Address };
        if (!ReceiptStatus.IsFinal(own.Status))
            throw new ReceiptException(ReceiptFormatReason.BadValue, $"receipt status '{own.Status}' is not a final job state; sign only after the job has finished");
        TypedDataJson.CheckSignable(SignedTypes.Receipt, own.ToValues());
        Hash32 digest = _domain.Digest(own.ToStruct());
        return new SignedReceipt(own, _domain.ChainId, digest, SignDigest(digest));
    }

    public SignedRejection Sign(Rejection rejection)
    {
        Rejection own = rejection with { Node = _key.Address };
        TypedDataJson.CheckSignable(SignedTypes.Rejection, own.ToValues());
        Hash32 digest = _domain.Digest(own.ToStruct());
        return new SignedRejection(own, _domain.ChainId, digest, SignDigest(digest));
    }

    internal byte[] SignDigest(in Hash32 digest)
    {
        var signature = new byte[EthSignature.Size];
        if (_nonces == NonceSource.Precomputed)
            _key.SignWithPrecomputedNonce(digest, signature);
        else
            _key.Sign(digest, signature);
        return signature;
    }

    internal Hash32 Digest<T>(in T message)
        where T : struct, ISignedStruct => _domain.Digest(message);
}
