using System.Buffers;
using System.Globalization;
using System.Text.Json;
using InfraMind.Node.Crypto;
using InfraMind.Node.Crypto.Eip712;
using InfraMind.Node.Crypto.Merkle;

namespace InfraMind.Node.Receipts;

/// <summary>
/// A Merkle batch of receipts (CONTRACT.md §7): the OpenZeppelin standard tree over the receipts' EIP-712
/// digests, and its root signed as <c>ReceiptBatch(root, count, fromTimestamp, toTimestamp, node)</c>.
/// </summary>
public sealed class SignedReceiptBatch
{
    private readonly byte[] _signature;

    internal SignedReceiptBatch(StandardMerkleTree tree, ReceiptBatchStruct batch, ulong chainId, Hash32 digest, byte[] signature)
    {
        Tree = tree;
        Batch = batch;
        ChainId = chainId;
        Digest = digest;
        _signature = signature;
    }

    public StandardMerkleTree Tree { get; }

    public ReceiptBatchStruct Batch { get; }

    public ulong ChainId { get; }

    public Hash32 Digest { get; }

    public ReadOnlySpan<byte> Signature => _signature;

    /// <summary><c>{ dump, root, count, from_timestamp, to_timestamp, node, signature, eip712 }</c>, compact UTF-8.</summary>
    public byte[] ToJson() => TypedDataJson.ToBytes(WriteJson, 1024 + (Tree.Count * 200));

    public void WriteJson(Utf8JsonWriter json)
    {
        string[] values =
        [
            Batch.Root.ToString(),
            Batch.Count.ToString(CultureInfo.InvariantCulture),
            Batch.FromTimestamp.ToString(CultureInfo.InvariantCulture),
            Batch.ToTimestamp.ToString(CultureInfo.InvariantCulture),
            Batch.Node.ToString(),
        ];
        json.WriteStartObject();
        json.WritePropertyName("dump"u8);
        Tree.WriteDump(json);
        TypedDataJson.WriteSigned(json, SignedTypes.ReceiptBatch, values, _signature, ChainId, nodeIdAlias: false);
        json.WriteEndObject();
    }
}

/// <summary>Builds and signs the batch of a set of logged receipts.</summary>
/// <param name="maxReceipts">The most receipts a batch holds: the current batch is the latest ones.</param>
public sealed class ReceiptBatcher(ReceiptSigner signer, int maxReceipts = ReceiptBatcher.DefaultMaxReceipts)
{
    /// <summary>
    /// The current batch (<c>GET /v1/receipts/batch</c>, <c>infra receipts batch</c>) is the latest 4,096 receipts at
    /// most: a batch of every receipt ever logged grew with the node's age, and each request on the public port read and
    /// parsed the whole log (about 1.5 KB a receipt) and answered tens of MB. 4,096 leaves make a dump of about 1 MB.
    /// </summary>
    public const int DefaultMaxReceipts = 4096;

    private readonly ReceiptSigner _signer = signer;

    public int MaxReceipts { get; } = maxReceipts >= 1 ? maxReceipts : throw new ArgumentOutOfRangeException(nameof(maxReceipts));

    /// <summary>
    /// The batch of the last <see cref="MaxReceipts"/> of <paramref name="receipts"/> in the order given (the log's
    /// order), or false when there are none: the library cannot build an empty tree, and an empty batch attests nothing.
    /// Every receipt must be this node's and under this signer's chain id, or the batch would vouch for another's.
    /// </summary>
    public bool TryBuild(IReadOnlyList<SignedReceipt> receipts, out SignedReceiptBatch? batch)
    {
        batch = null;
        if (receipts.Count == 0)
            return false;

        int first = Math.Max(0, receipts.Count - MaxReceipts);
        var leaves = new Hash32[receipts.Count - first];
        ulong from = ulong.MaxValue, to = 0;
        for (int i = 0; i < leaves.Length; i++)
        {
            SignedReceipt r = receipts[first + i];
            if (r.Receipt.Node != _signer.Node || r.ChainId != _signer.ChainId)
            {
                throw new ReceiptException(ReceiptFormatReason.Signature,
                    $"receipt for job '{r.JobId}' was signed by {r.Receipt.Node} on chain {r.ChainId}, not by this node on chain {_signer.ChainId}; keep one state_dir per key and chain id");
            }

            leaves[i] = r.Digest;
            from = Math.Min(from, r.Receipt.Timestamp);
            to = Math.Max(to, r.Receipt.Timestamp);
        }

        StandardMerkleTree tree = StandardMerkleTree.Of(leaves);
        var root = new ReceiptBatchStruct(tree.Root, (ulong)leaves.Length, from, to, _signer.Node);
        Hash32 digest = _signer.Digest(root);
        batch = new SignedReceiptBatch(tree, root, _signer.ChainId, digest, _signer.SignDigest(digest));
        return true;
    }
}
