using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using InfraMind.Node.Crypto;
using InfraMind.Node.Crypto.Eip712;
using InfraMind.Node.Receipts;

namespace InfraMind.Node.Tests.Receipts;

public class ReceiptJsonTests
{
    private static readonly ReceiptSigner Signer = ReceiptSamples.Signer();

    private static byte[] SampleJson(ulong peakMemory = 512UL << 20) =>
        Signer.Sign(ReceiptSamples.Receipt("a6b4-23fa", peakMemory: peakMemory)).ToJson();

    [Fact]
    public void A_signed_receipt_round_trips_and_its_signature_recovers_to_the_node()
    {
        SignedReceipt signed = Signer.Sign(ReceiptSamples.Receipt("a6b4-23fa"));
        Assert.Equal(Signer.Node, signed.Receipt.Node);
        Assert.Equal(new Eip712Domain(ReceiptSamples.ChainId).Digest(signed.Receipt.ToStruct()), signed.Digest);
        Hash32 digest = signed.Digest;
        Assert.True(EthSignature.Verify(digest, signed.Signature, Signer.Node));

        Assert.True(SignedReceipt.TryParse(signed.ToJson(), out SignedReceipt? parsed, out ReceiptFormatError error), error.Message);
        Assert.Equal(signed.Receipt, parsed!.Receipt);
        Assert.Equal(signed.Digest, parsed.Digest);
        Assert.Equal(ReceiptSamples.ChainId, parsed.ChainId);
        Assert.Equal(signed.ToJson(), parsed.ToJson());
    }

    [Fact]
    public void The_json_carries_every_contract_field_and_the_eip712_block()
    {
        JsonElement root = JsonDocument.Parse(SampleJson()).RootElement;
        string[] expected =
        [
            "job_id", "job_hash", "model_ref", "image_digest", "output_hash", "status", "latency_ms", "started_at",
            "finished_at", "cpu_ms", "peak_memory_bytes", "node", "node_id", "timestamp", "signature", "eip712",
        ];
        Assert.Equal(expected, root.EnumerateObject().Select(p => p.Name));
        Assert.Equal(root.GetProperty("node").GetString(), root.GetProperty("node_id").GetString());
        Assert.Equal(Signer.Node.ToString(), root.GetProperty("node").GetString());
        Assert.Equal(132, root.GetProperty("signature").GetString()!.Length);
        Assert.Equal(JsonValueKind.Number, root.GetProperty("latency_ms").ValueKind);

        JsonElement eip712 = root.GetProperty("eip712");
        Assert.Equal("Receipt", eip712.GetProperty("primaryType").GetString());
        Assert.Equal("InfraMind", eip712.GetProperty("domain").GetProperty("name").GetString());
        Assert.Equal(ReceiptSamples.ChainId, eip712.GetProperty("domain").GetProperty("chainId").GetUInt64());
        Assert.Equal(["EIP712Domain", "Receipt"], eip712.GetProperty("types").EnumerateObject().Select(p => p.Name));

        // The types block spells the contract's type string exactly.
        string encoded = "Receipt(" + string.Join(',', eip712.GetProperty("types").GetProperty("Receipt").EnumerateArray()
            .Select(f => $"{f.GetProperty("type").GetString()} {f.GetProperty("name").GetString()}")) + ")";
        Assert.Equal("Receipt(string jobId,bytes32 jobHash,string modelRef,bytes32 imageDigest,bytes32 outputHash,string status,uint64 latencyMs,uint64 startedAt,uint64 finishedAt,uint64 cpuMs,uint64 peakMemoryBytes,address node,uint64 timestamp)", encoded);

        // uint64 in the message as decimal strings: JavaScript numbers lose integers above 2^53.
        Assert.Equal("1234", eip712.GetProperty("message").GetProperty("latencyMs").GetString());
    }

    [Fact]
    public void A_uint64_above_2_pow_53_survives_as_a_string()
    {
        byte[] json = SampleJson(peakMemory: ulong.MaxValue - 1);
        Assert.Equal("18446744073709551614", JsonDocument.Parse(json).RootElement.GetProperty("eip712").GetProperty("message").GetProperty("peakMemoryBytes").GetString());
        Assert.True(SignedReceipt.TryParse(json, out SignedReceipt? parsed, out _));
        Assert.Equal(ulong.MaxValue - 1, parsed!.Receipt.PeakMemoryBytes);
    }

    [Theory]
    [InlineData("latency_ms", ReceiptFormatReason.Mismatch)]
    [InlineData("job_id", ReceiptFormatReason.Mismatch)]
    [InlineData("node_id", ReceiptFormatReason.Mismatch)]
    [InlineData("status", ReceiptFormatReason.Mismatch)]
    public void A_top_level_field_that_differs_from_the_signed_message_is_refused(string field, ReceiptFormatReason expected)
    {
        JsonObject doc = JsonNode.Parse(SampleJson())!.AsObject();
        doc[field] = field switch
        {
            "latency_ms" => JsonValue.Create(1235UL),
            "node_id" => JsonValue.Create("0x0000000000000000000000000000000000000001"),
            "status" => JsonValue.Create("failed"),
            _ => JsonValue.Create("other-job"),
        };
        Assert.Equal(expected, Error(doc));
    }

    [Fact]
    public void Changing_a_field_in_both_places_breaks_the_signature()
    {
        JsonObject doc = JsonNode.Parse(SampleJson())!.AsObject();
        doc["latency_ms"] = 1;
        doc["eip712"]!["message"]!["latencyMs"] = "1";
        Assert.Equal(ReceiptFormatReason.Signature, Error(doc));

        // A different chain id gives another digest, so the same signature no longer recovers to the node.
        doc = JsonNode.Parse(SampleJson())!.AsObject();
        doc["eip712"]!["domain"]!["chainId"] = 1;
        Assert.Equal(ReceiptFormatReason.Signature, Error(doc));

        doc = JsonNode.Parse(SampleJson())!.AsObject();
        string sig = doc["signature"]!.GetValue<string>();
        doc["signature"] = sig[..^2] + "1d";
        Assert.Equal(ReceiptFormatReason.Signature, Error(doc));
    }

    [Theory]
    [InlineData("missing:cpu_ms", ReceiptFormatReason.MissingField)]
    [InlineData("missing:node_id", ReceiptFormatReason.MissingField)]
    [InlineData("missing:signature", ReceiptFormatReason.MissingField)]
    [InlineData("missing:eip712", ReceiptFormatReason.MissingField)]
    [InlineData("extra:cost", ReceiptFormatReason.UnknownField)]
    [InlineData("value:latency_ms=\"1234\"", ReceiptFormatReason.BadValue)]
    [InlineData("value:latency_ms=-1", ReceiptFormatReason.BadValue)]
    [InlineData("value:latency_ms=1.5", ReceiptFormatReason.BadValue)]
    [InlineData("value:latency_ms=18446744073709551616", ReceiptFormatReason.BadValue)]
    [InlineData("value:job_hash=\"0x1234\"", ReceiptFormatReason.BadValue)]
    [InlineData("value:job_hash=null", ReceiptFormatReason.BadValue)]
    [InlineData("value:node=\"0xb71c3f\"", ReceiptFormatReason.BadValue)]
    [InlineData("value:signature=\"0xzz\"", ReceiptFormatReason.BadValue)]
    [InlineData("value:eip712=[]", ReceiptFormatReason.BadValue)]
    [InlineData("eip712:primaryType=\"Job\"", ReceiptFormatReason.PrimaryType)]
    [InlineData("eip712:domain={\"name\":\"InfraMind\",\"version\":\"2\",\"chainId\":31337}", ReceiptFormatReason.Domain)]
    [InlineData("eip712:domain={\"name\":\"InfraMind\",\"version\":\"1\"}", ReceiptFormatReason.Domain)]
    [InlineData("eip712:domain={\"name\":\"InfraMind\",\"version\":\"1\",\"chainId\":31337,\"salt\":\"0x00\"}", ReceiptFormatReason.Domain)]
    [InlineData("eip712:types={\"Receipt\":[]}", ReceiptFormatReason.Types)]
    [InlineData("eip712:extra=1", ReceiptFormatReason.UnknownField)]
    [InlineData("message:latencyMs=\"01234\"", ReceiptFormatReason.BadValue)]
    [InlineData("message:latencyMs=\"0x4d2\"", ReceiptFormatReason.BadValue)]
    [InlineData("message:latencyMs=1234", ReceiptFormatReason.None)]
    [InlineData("message:extra=\"1\"", ReceiptFormatReason.UnknownField)]
    [InlineData("value:status=\"running\"", ReceiptFormatReason.Mismatch)]
    public void Malformed_receipts_are_refused_with_a_reason(string change, ReceiptFormatReason expected)
    {
        JsonObject doc = JsonNode.Parse(SampleJson())!.AsObject();
        string[] parts = change.Split(':', 2);
        string[] kv = parts[1].Split('=', 2);
        JsonObject target = parts[0] switch
        {
            "eip712" => doc["eip712"]!.AsObject(),
            "message" => doc["eip712"]!["message"]!.AsObject(),
            _ => doc,
        };
        if (parts[0] == "missing")
            target.Remove(kv[0]);
        else if (parts[0] == "extra")
            target[kv[0]] = 1;
        else
            target[kv[0]] = JsonNode.Parse(kv[1]);
        Assert.Equal(expected, Error(doc));
    }

    [Fact]
    public void Every_truncation_is_refused_as_not_json()
    {
        byte[] json = SampleJson();
        for (int length = 0; length < json.Length; length++)
        {
            Assert.False(SignedReceipt.TryParse(json.AsSpan(0, length), out _, out ReceiptFormatError error), $"prefix {length} parsed");
            Assert.Equal(ReceiptFormatReason.NotJson, error.Reason);
        }
    }

    [Fact]
    public void Duplicate_members_oversized_and_garbage_documents_are_refused()
    {
        string json = Encoding.UTF8.GetString(SampleJson());
        string duplicated = json.Replace("\"cpu_ms\":987", "\"cpu_ms\":987,\"cpu_ms\":1", StringComparison.Ordinal);
        Assert.Equal(ReceiptFormatReason.NotJson, Error(Encoding.UTF8.GetBytes(duplicated)));

        byte[] padded = Encoding.UTF8.GetBytes(json.Insert(1, new string(' ', TypedDataJson.MaxDocumentBytes)));
        Assert.Equal(ReceiptFormatReason.TooLarge, Error(padded));
        Assert.Equal(ReceiptFormatReason.NotJson, Error(Encoding.UTF8.GetBytes(new string('[', 10_000))));
        Assert.Equal(ReceiptFormatReason.NotJson, Error("\"receipt\""u8.ToArray()));
        Assert.Equal(ReceiptFormatReason.NotJson, Error([0xff, 0xfe, 0x7b]));

        // A hostile member name is clipped in the message.
        string longName = json.Insert(1, $"\"{new string('x', 5000)}\":1,");
        Assert.False(SignedReceipt.TryParse(Encoding.UTF8.GetBytes(longName), out _, out ReceiptFormatError e));
        Assert.Equal(ReceiptFormatReason.UnknownField, e.Reason);
        Assert.True(e.Message.Length < 200);
    }

    [Fact]
    public void Unsignable_receipts_are_refused_at_signing()
    {
        Assert.Throws<ReceiptException>(() => Signer.Sign(ReceiptSamples.Receipt("x") with { Status = "running" }));
        Assert.Throws<ReceiptException>(() => Signer.Sign(ReceiptSamples.Receipt("bad\ud800id")));
        Assert.Throws<ReceiptException>(() => Signer.Sign(ReceiptSamples.Receipt(new string('j', TypedDataJson.MaxStringLength + 1))));

        // Non-ASCII that is well formed signs, escapes in JSON, and parses back to the same text.
        SignedReceipt unicode = Signer.Sign(ReceiptSamples.Receipt("job-é-😀-<>&"));
        Assert.True(SignedReceipt.TryParse(unicode.ToJson(), out SignedReceipt? parsed, out _));
        Assert.Equal("job-é-😀-<>&", parsed!.JobId);
    }

    [Fact]
    public void A_rejection_round_trips_and_is_checked_the_same_way()
    {
        SignedRejection signed = Signer.Sign(ReceiptSamples.Rejection("r-1"));
        Hash32 digest = signed.Digest;
        Assert.True(EthSignature.Verify(digest, signed.Signature, Signer.Node));
        Assert.True(SignedRejection.TryParse(signed.ToJson(), out SignedRejection? parsed, out ReceiptFormatError error), error.Message);
        Assert.Equal(signed.Rejection, parsed!.Rejection);
        Assert.Equal("Rejection", JsonDocument.Parse(signed.ToJson()).RootElement.GetProperty("eip712").GetProperty("primaryType").GetString());

        JsonObject doc = JsonNode.Parse(signed.ToJson())!.AsObject();
        doc["reason"] = "other";
        Assert.False(SignedRejection.TryParse(Encoding.UTF8.GetBytes(doc.ToJsonString()), out _, out error));
        Assert.Equal(ReceiptFormatReason.Mismatch, error.Reason);

        // A receipt is not a rejection, and the reverse.
        Assert.False(SignedRejection.TryParse(SampleJson(), out _, out _));
        Assert.False(SignedReceipt.TryParse(signed.ToJson(), out _, out _));
    }

    private static ReceiptFormatReason Error(JsonObject doc) => Error(Encoding.UTF8.GetBytes(doc.ToJsonString()));

    private static ReceiptFormatReason Error(byte[] json)
    {
        return SignedReceipt.TryParse(json, out _, out ReceiptFormatError error) ? ReceiptFormatReason.None : error.Reason;
    }
}
