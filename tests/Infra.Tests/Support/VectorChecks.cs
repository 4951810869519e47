using System.Globalization;
using System.Text.Json;
using InfraMind.Node.Crypto;
using InfraMind.Node.Crypto.Eip712;

namespace InfraMind.Node.Tests.Support;

/// <summary>
/// Computes every value of a vector case with the node's own code and lists what differs. The vector tests
/// assert the list is empty; the mutation tests assert a one-byte change makes it non-empty.
/// </summary>
public static class VectorChecks
{
    public static List<string> KeccakCase(JsonElement c)
    {
        byte[] input = c.TryGetProperty("input", out JsonElement hex)
            ? CryptoVectors.HexBytes(hex)
            : CryptoVectors.Pattern(c.GetProperty("length").GetInt32());
        var problems = new List<string>();
        Expect(problems, c, "hash", Keccak256.Hash(input).ToString());
        return problems;
    }

    public static List<string> AddressCase(JsonElement c)
    {
        var problems = new List<string>();
        byte[] secret = CryptoVectors.HexBytes(c.GetProperty("private_key"));
        if (!NodeKey.TryCreate(secret, out NodeKey? key))
        {
            problems.Add($"private key {c.GetProperty("private_key")} was refused");
            return problems;
        }

        using (key)
        {
            Expect(problems, c, "address", key!.Address.ToString());
            Expect(problems, c, "public_key_compressed", Hex.Encode(key.CompressedPublicKey));
            Expect(problems, c, "public_key_uncompressed", Hex.Encode(UncompressedFrom(c)));
            Address fromPublic = Address.FromPublicKey(UncompressedFrom(c));
            if (fromPublic != key.Address)
                problems.Add($"address from the vector's public key {fromPublic} differs from the key's {key.Address}");
            if (!Address.TryParse(c.GetProperty("address").GetString(), out Address parsed) || parsed != key.Address)
                problems.Add($"the vector's address {c.GetProperty("address")} does not parse to {key.Address}");
        }

        return problems;
    }

    public static List<string> TypedDataCase(JsonElement c)
    {
        var problems = new List<string>();
        JsonElement domainJson = c.GetProperty("domain");
        var domain = new Eip712Domain(
            domainJson.GetProperty("name").GetString()!,
            domainJson.GetProperty("version").GetString()!,
            ulong.Parse(domainJson.GetProperty("chainId").GetString()!, CultureInfo.InvariantCulture));
        Expect(problems, c, "domain_separator", Hex.Encode(domain.Separator));

        JsonElement m = c.GetProperty("message");
        (Hash32 structHash, Hash32 digest) = c.GetProperty("primary_type").GetString() switch
        {
            "Job" => Hashes(domain, new JobStruct(S(m, "jobId"), S(m, "modelHash"), S(m, "containerUri"), S(m, "entrypoint"), S(m, "inputSchema"), S(m, "outputSchema"), H(m, "inputHash"), U(m, "deadline"), A(m, "node"))),
            "Rejection" => Hashes(domain, new RejectionStruct(S(m, "jobId"), H(m, "jobHash"), S(m, "reason"), A(m, "node"), U(m, "timestamp"))),
            "Hello" => Hashes(domain, new HelloStruct(A(m, "node"), S(m, "region"), S(m, "version"), H(m, "capabilitiesHash"), U(m, "timestamp"))),
            "Receipt" => Hashes(domain, new ReceiptStruct(S(m, "jobId"), H(m, "jobHash"), S(m, "modelRef"), H(m, "imageDigest"), H(m, "outputHash"), S(m, "status"), U(m, "latencyMs"), U(m, "startedAt"), U(m, "finishedAt"), U(m, "cpuMs"), U(m, "peakMemoryBytes"), A(m, "node"), U(m, "timestamp"))),
            "ReceiptBatch" => Hashes(domain, new ReceiptBatchStruct(H(m, "root"), U(m, "count"), U(m, "fromTimestamp"), U(m, "toTimestamp"), A(m, "node"))),
            var other => throw new InvalidDataException($"unknown primary type {other}"),
        };
        Expect(problems, c, "struct_hash", structHash.ToString());
        Expect(problems, c, "digest", digest.ToString());

        if (c.TryGetProperty("input_text", out JsonElement inputText))
        {
            Hash32 inputHash = Keccak256.Hash(System.Text.Encoding.UTF8.GetBytes(inputText.GetString()!));
            Expect(problems, m, "inputHash", inputHash.ToString());
        }

        // Deterministic RFC 6979 signing must give ethers' exact bytes; recovery must give the signer back.
        using (NodeKey key = KeyOf(c))
        {
            var signature = new byte[EthSignature.Size];
            key.Sign(digest, signature);
            Expect(problems, c, "signature", Hex.Encode(signature));
            Expect(problems, c, "signer", key.Address.ToString());
        }

        byte[] expectedSignature = CryptoVectors.HexBytes(c.GetProperty("signature"));
        if (!EthSignature.TryRecover(digest, expectedSignature, out Address signer, out SignatureError error))
            problems.Add($"the vector's signature did not recover: {error}");
        else
            Expect(problems, c, "signer", signer.ToString());

        byte[] twin = CryptoVectors.HexBytes(c.GetProperty("high_s_signature"));
        Expect(problems, c, "high_s_signature", Hex.Encode(MalleableTwin(expectedSignature)));
        if (EthSignature.TryRecover(digest, twin, out _, out SignatureError twinError) || twinError != SignatureError.HighS)
            problems.Add($"the high-s twin was not refused as high-s (got {twinError})");
        return problems;
    }

    private static (Hash32 Struct, Hash32 Digest) Hashes<T>(Eip712Domain domain, T message)
        where T : struct, ISignedStruct => (message.HashStruct(), domain.Digest(message));

    /// <summary>The same signature with s' = n - s and v flipped: valid on the curve, refused by EIP-2.</summary>
    private static byte[] MalleableTwin(byte[] signature)
    {
        var order = System.Numerics.BigInteger.Parse("0fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141", NumberStyles.HexNumber, CultureInfo.InvariantCulture);
        var s = new System.Numerics.BigInteger(signature.AsSpan(32, 32), isUnsigned: true, isBigEndian: true);
        byte[] twin = (byte[])signature.Clone();
        (order - s).TryWriteBytes(twin.AsSpan(32, 32), out _, isUnsigned: true, isBigEndian: true);
        twin[64] = (byte)(signature[64] == 27 ? 28 : 27);
        return twin;
    }

    private static NodeKey KeyOf(JsonElement c)
    {
        if (!NodeKey.TryCreate(CryptoVectors.HexBytes(c.GetProperty("private_key")), out NodeKey? key))
            throw new InvalidDataException("vector private key refused");
        return key!;
    }

    private static byte[] UncompressedFrom(JsonElement c) => CryptoVectors.HexBytes(c.GetProperty("public_key_uncompressed"));

    private static string S(JsonElement m, string name) => m.GetProperty(name).GetString()!;

    private static ulong U(JsonElement m, string name) => ulong.Parse(m.GetProperty(name).GetString()!, CultureInfo.InvariantCulture);

    private static Hash32 H(JsonElement m, string name) => Hash32.Read(CryptoVectors.HexBytes(m.GetProperty(name)));

    private static Address A(JsonElement m, string name) =>
        Address.TryParse(m.GetProperty(name).GetString(), out Address a) ? a : throw new InvalidDataException($"bad address {m.GetProperty(name)}");

    // Byte-for-byte: the checksummed address text is compared exactly, hex compared as lowercase.
    private static void Expect(List<string> problems, JsonElement c, string field, string actual)
    {
        string expected = c.GetProperty(field).GetString()!;
        bool same = field is "address" or "signer" ? expected == actual : string.Equals(expected, actual, StringComparison.OrdinalIgnoreCase);
        if (!same)
            problems.Add($"{field}: expected {expected}, computed {actual}");
    }
}
