using InfraMind.Node.Crypto;
using InfraMind.Node.Crypto.Eip712;
using NBitcoin.Secp256k1;
using Wire = InfraMind.Node.Protos.Mesh;

namespace InfraMind.Scheduler;

/// <summary>The scheduler's checks of what a node signs; each returns null when it holds, else what is wrong.</summary>
public static class Verify
{
    /// <summary>The public key is the node's (its address), and the signature over Hello recovers to the node.</summary>
    public static string? Hello(Wire.Hello hello, Eip712Domain domain, out Address node)
    {
        if (!Address.TryParse(hello.Node, out node))
            return $"node '{hello.Node}' is not an address";
        if (hello.PublicKey.Length != NodeKey.CompressedPublicKeySize || !ECPubKey.TryCreate(hello.PublicKey.Span, Context.Instance, out _, out ECPubKey? key))
            return "public_key is not a 33-byte compressed secp256k1 key";
        Span<byte> uncompressed = stackalloc byte[NodeKey.UncompressedPublicKeySize];
        key!.WriteToSpan(compressed: false, uncompressed, out _);
        if (Address.FromPublicKey(uncompressed) != node)
            return "public_key does not belong to node";
        if (hello.Capabilities is null)
            return "no capabilities";

        // The hash of the bytes as they arrived: re-encoding a message that has no unknown fields gives the same bytes.
        Hash32 capabilities = Keccak256.Hash(Google.Protobuf.MessageExtensions.ToByteArray(hello.Capabilities));
        Hash32 digest = domain.Digest(new HelloStruct(node, hello.Region, hello.Version, capabilities, hello.Timestamp));
        return Recovers(digest, hello.Signature.Span, node);
    }

    public static string? Receipt(Wire.Receipt r, Eip712Domain domain, Address node)
    {
        if (!Hash32.TryParse(r.JobHash, out Hash32 jobHash) || !Hash32.TryParse(r.ImageDigest, out Hash32 image) || !Hash32.TryParse(r.OutputHash, out Hash32 output))
            return "a hash field is not 0x + 64 hex";
        if (!Address.TryParse(r.Node, out Address claimed) || claimed != node)
            return $"receipt names node {r.Node}, the stream is node {node}";
        Hash32 digest = domain.Digest(new ReceiptStruct(r.JobId, jobHash, r.ModelRef, image, output, r.Status, r.LatencyMs, r.StartedAt, r.FinishedAt,
            r.CpuMs, r.PeakMemoryBytes, node, r.Timestamp));
        return Recovers(digest, r.Signature.Span, node);
    }

    public static string? Rejection(Wire.Rejection r, Eip712Domain domain, Address node)
    {
        if (!Hash32.TryParse(r.JobHash, out Hash32 jobHash))
            return "job_hash is not 0x + 64 hex";
        Hash32 digest = domain.Digest(new RejectionStruct(r.JobId, jobHash, r.Reason, node, r.Timestamp));
        return Recovers(digest, r.Signature.Span, node);
    }

    private static string? Recovers(in Hash32 digest, ReadOnlySpan<byte> signature, Address node)
    {
        if (!EthSignature.TryRecover(digest, signature, out Address signer, out SignatureError error))
            return $"signature does not verify ({error})";
        return signer == node ? null : $"signature recovers to {signer}, not {node}";
    }
}
