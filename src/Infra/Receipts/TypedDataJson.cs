using System.Globalization;
using System.Text;
using System.Text.Json;
using InfraMind.Node.Crypto;
using InfraMind.Node.Crypto.Eip712;
using InfraMind.Node.Crypto.Merkle;

namespace InfraMind.Node.Receipts;

/// <summary>
/// The JSON shape shared by receipts and rejections: the signed fields in snake_case at the top level, the
/// signature, and an <c>eip712</c> block <c>{ domain, types, primaryType, message }</c> that any EIP-712
/// library can verify as it is (eth_signTypedData_v4 reads <c>types</c> with <c>EIP712Domain</c>; ethers
/// wants it removed). The field list of the <see cref="Eip712Type"/> drives both writing and reading, so the
/// JSON cannot drift from what is hashed.
/// </summary>
/// <remarks>
/// Values travel between the two as canonical text: strings as they are, bytes32 as 0x + lowercase hex,
/// uint64 as decimal, addresses in EIP-55 form. At the top level a uint64 is a JSON number; in
/// <c>eip712.message</c> it is a decimal string, because JavaScript numbers lose integers above 2^53 and
/// ethers accepts strings for every uint width. A JavaScript reader of the top level sees a value above 2^53 as
/// the nearest double; the signed message keeps it exact.
/// </remarks>
public static class TypedDataJson
{
    /// <summary>A receipt is about 2 KiB; anything far bigger is not one this node wrote.</summary>
    public const int MaxDocumentBytes = 64 * 1024;

    /// <summary>Longest string field (job id, model ref, status, reason), in UTF-16 code units.</summary>
    public const int MaxStringLength = 1024;

    /// <summary>The JSON name of a struct member: <c>peakMemoryBytes</c> → <c>peak_memory_bytes</c>.</summary>
    public static string SnakeCase(string camel)
    {
        var text = new StringBuilder(camel.Length + 4);
        foreach (char c in camel)
        {
            if (char.IsAsciiLetterUpper(c))
                text.Append('_').Append(char.ToLowerInvariant(c));
            else
                text.Append(c);
        }

        return text.ToString();
    }

    /// <summary>
    /// Checks the canonical values of <paramref name="type"/> before signing: strings well-formed UTF-16 and not
    /// over <see cref="MaxStringLength"/>. A lone surrogate would hash as U+FFFD but publish differently.
    /// </summary>
    internal static void CheckSignable(Eip712Type type, ReadOnlySpan<string> values)
    {
        for (int i = 0; i < values.Length; i++)
        {
            if (type.Fields[i].Type == "string" && !IsSignableString(values[i]))
            {
                throw new ReceiptException(ReceiptFormatReason.BadValue,
                    $"{type.Name}.{type.Fields[i].Name} is longer than {MaxStringLength} characters or not well-formed UTF-16; shorten or fix it before signing");
            }
        }
    }

    internal static void WriteFields(Utf8JsonWriter json, Eip712Type type, ReadOnlySpan<string> values, bool nodeIdAlias)
    {
        for (int i = 0; i < values.Length; i++)
        {
            Eip712Field field = type.Fields[i];
            string name = SnakeCase(field.Name);
            if (field.Type == "uint64")
                json.WriteNumber(name, ulong.Parse(values[i], NumberStyles.None, CultureInfo.InvariantCulture));
            else
                json.WriteString(name, values[i]);

            // CONTRACT.md §7 names the signer twice: `node` and `node_id`, same value.
            if (nodeIdAlias && field.Name == "node")
                json.WriteString("node_id"u8, values[i]);
        }
    }

    internal static void WriteSignature(Utf8JsonWriter json, ReadOnlySpan<byte> signature) =>
        json.WriteString("signature"u8, Hex.Encode(signature));

    /// <summary>
    /// The members every signed document ends with, in order: its fields (with <c>node_id</c> when asked), the
    /// signature, and the <c>eip712</c> block that was signed. The caller opens and closes the object.
    /// </summary>
    internal static void WriteSigned(Utf8JsonWriter json, Eip712Type type, string[] values, ReadOnlySpan<byte> signature, ulong chainId, bool nodeIdAlias)
    {
        WriteFields(json, type, values, nodeIdAlias);
        WriteSignature(json, signature);
        WriteTypedData(json, type, values, chainId);
    }

    /// <summary>A document written by <paramref name="write"/> as compact UTF-8.</summary>
    internal static byte[] ToBytes(Action<Utf8JsonWriter> write, int sizeHint)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(sizeHint);
        using (var json = new Utf8JsonWriter(buffer))
            write(json);
        return buffer.WrittenSpan.ToArray();
    }

    internal static void WriteTypedData(Utf8JsonWriter json, Eip712Type type, ReadOnlySpan<string> values, ulong chainId)
    {
        json.WriteStartObject("eip712"u8);
        json.WriteStartObject("domain"u8);
        json.WriteString("name"u8, Eip712Domain.ProtocolName);
        json.WriteString("version"u8, Eip712Domain.ProtocolVersion);
        json.WriteNumber("chainId"u8, chainId);
        json.WriteEndObject();

        json.WriteStartObject("types"u8);
        WriteType(json, SignedTypes.Domain);
        WriteType(json, type);
        json.WriteEndObject();

        json.WriteString("primaryType"u8, type.Name);

        json.WriteStartObject("message"u8);
        for (int i = 0; i < values.Length; i++)
            json.WriteString(type.Fields[i].Name, values[i]);
        json.WriteEndObject();
        json.WriteEndObject();
    }

    private static void WriteType(Utf8JsonWriter json, Eip712Type type)
    {
        json.WriteStartArray(type.Name);
        foreach (Eip712Field field in type.Fields)
        {
            json.WriteStartObject();
            json.WriteString("name"u8, field.Name);
            json.WriteString("type"u8, field.Type);
            json.WriteEndObject();
        }

        json.WriteEndArray();
    }

    /// <summary>
    /// Reads a document of <paramref name="type"/> strictly: no unknown, missing or duplicate members; every
    /// top-level field equal to its <c>eip712.message</c> twin; domain and types exactly the contract's.
    /// The signature is only decoded here; the caller checks it against the digest of the typed struct.
    /// </summary>
    internal static bool TryRead(ReadOnlySpan<byte> utf8, Eip712Type type, bool nodeIdAlias, out string[] values, out ulong chainId, out byte[] signature, out ReceiptFormatError error)
    {
        values = new string[type.Fields.Count];
        chainId = 0;
        signature = [];
        if (utf8.Length > MaxDocumentBytes)
            return Fail(ReceiptFormatReason.TooLarge, "", out error);

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(utf8.ToArray(), StandardMerkleTree.StrictJson);
        }
        catch (JsonException)
        {
            return Fail(ReceiptFormatReason.NotJson, "", out error);
        }

        using (document)
        {
            JsonElement root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                return Fail(ReceiptFormatReason.NotJson, "", out error);

            int n = type.Fields.Count;
            var top = new JsonElement[n];
            JsonElement nodeId = default, sig = default, eip712 = default;
            foreach (JsonProperty member in root.EnumerateObject())
            {
                int index = IndexOfJsonName(type, member.Name);
                if (index >= 0)
                    top[index] = member.Value;
                else if (nodeIdAlias && member.Name == "node_id")
                    nodeId = member.Value;
                else if (member.Name == "signature")
                    sig = member.Value;
                else if (member.Name == "eip712")
                    eip712 = member.Value;
                else
                    return Fail(ReceiptFormatReason.UnknownField, Clip(member.Name), out error);
            }

            for (int i = 0; i < n; i++)
            {
                string name = SnakeCase(type.Fields[i].Name);
                if (top[i].ValueKind == JsonValueKind.Undefined)
                    return Fail(ReceiptFormatReason.MissingField, name, out error);
                if (!TryCanonical(top[i], type.Fields[i].Type, topLevel: true, out values[i]))
                    return Fail(ReceiptFormatReason.BadValue, name, out error);
            }

            if (nodeIdAlias)
            {
                if (nodeId.ValueKind == JsonValueKind.Undefined)
                    return Fail(ReceiptFormatReason.MissingField, "node_id", out error);
                if (!TryCanonical(nodeId, "address", topLevel: true, out string? alias))
                    return Fail(ReceiptFormatReason.BadValue, "node_id", out error);
                if (alias != values[IndexOfField(type, "node")])
                    return Fail(ReceiptFormatReason.Mismatch, "node_id", out error);
            }

            if (sig.ValueKind == JsonValueKind.Undefined)
                return Fail(ReceiptFormatReason.MissingField, "signature", out error);
            signature = new byte[EthSignature.Size];
            if (sig.ValueKind != JsonValueKind.String || sig.GetString() is not { Length: 2 + (EthSignature.Size * 2) } sigText
                || !sigText.StartsWith("0x", StringComparison.Ordinal) || !Hex.TryDecode(sigText, signature))
                return Fail(ReceiptFormatReason.BadValue, "signature", out error);

            if (eip712.ValueKind == JsonValueKind.Undefined)
                return Fail(ReceiptFormatReason.MissingField, "eip712", out error);
            return TryReadTypedData(eip712, type, values, out chainId, out error);
        }
    }

    private static bool TryReadTypedData(JsonElement eip712, Eip712Type type, string[] values, out ulong chainId, out ReceiptFormatError error)
    {
        chainId = 0;
        if (eip712.ValueKind != JsonValueKind.Object)
            return Fail(ReceiptFormatReason.BadValue, "eip712", out error);

        JsonElement domain = default, types = default, primary = default, message = default;
        foreach (JsonProperty member in eip712.EnumerateObject())
        {
            switch (member.Name)
            {
                case "domain": domain = member.Value; break;
                case "types": types = member.Value; break;
                case "primaryType": primary = member.Value; break;
                case "message": message = member.Value; break;
                default: return Fail(ReceiptFormatReason.UnknownField, "eip712." + Clip(member.Name), out error);
            }
        }

        foreach ((JsonElement part, string name) in new[] { (domain, "domain"), (types, "types"), (primary, "primaryType"), (message, "message") })
        {
            if (part.ValueKind == JsonValueKind.Undefined)
                return Fail(ReceiptFormatReason.MissingField, "eip712." + name, out error);
        }

        if (!TryReadDomain(domain, out chainId, out error))
            return false;
        if (!TryReadTypes(types, type, out error))
            return false;
        if (primary.ValueKind != JsonValueKind.String || !primary.ValueEquals(type.Name))
            return Fail(ReceiptFormatReason.PrimaryType, type.Name, out error);

        if (message.ValueKind != JsonValueKind.Object)
            return Fail(ReceiptFormatReason.BadValue, "eip712.message", out error);
        var seen = new bool[values.Length];
        foreach (JsonProperty member in message.EnumerateObject())
        {
            int index = IndexOfField(type, member.Name);
            if (index < 0)
                return Fail(ReceiptFormatReason.UnknownField, "eip712.message." + Clip(member.Name), out error);
            seen[index] = true;
            if (!TryCanonical(member.Value, type.Fields[index].Type, topLevel: false, out string? signed))
                return Fail(ReceiptFormatReason.BadValue, "eip712.message." + member.Name, out error);
            if (signed != values[index])
                return Fail(ReceiptFormatReason.Mismatch, SnakeCase(member.Name), out error);
        }

        int missing = Array.IndexOf(seen, false);
        if (missing >= 0)
            return Fail(ReceiptFormatReason.MissingField, "eip712.message." + type.Fields[missing].Name, out error);

        error = ReceiptFormatError.None;
        return true;
    }

    private static bool TryReadDomain(JsonElement domain, out ulong chainId, out ReceiptFormatError error)
    {
        chainId = 0;
        if (domain.ValueKind != JsonValueKind.Object)
            return Fail(ReceiptFormatReason.Domain, "not an object", out error);
        bool name = false, version = false, chain = false;
        foreach (JsonProperty member in domain.EnumerateObject())
        {
            switch (member.Name)
            {
                case "name" when member.Value.ValueKind == JsonValueKind.String && member.Value.ValueEquals(Eip712Domain.ProtocolName):
                    name = true;
                    break;
                case "version" when member.Value.ValueKind == JsonValueKind.String && member.Value.ValueEquals(Eip712Domain.ProtocolVersion):
                    version = true;
                    break;
                case "chainId" when TryUint64(member.Value, allowString: true, out chainId):
                    chain = true;
                    break;
                default:
                    return Fail(ReceiptFormatReason.Domain, Clip(member.Name), out error);
            }
        }

        if (!(name && version && chain))
            return Fail(ReceiptFormatReason.Domain, !name ? "name" : !version ? "version" : "chainId", out error);
        error = ReceiptFormatError.None;
        return true;
    }

    private static bool TryReadTypes(JsonElement types, Eip712Type type, out ReceiptFormatError error)
    {
        if (types.ValueKind != JsonValueKind.Object)
            return Fail(ReceiptFormatReason.Types, "not an object", out error);
        bool domain = false, primary = false;
        foreach (JsonProperty member in types.EnumerateObject())
        {
            if (member.Name == SignedTypes.Domain.Name && SameFields(member.Value, SignedTypes.Domain))
                domain = true;
            else if (member.Name == type.Name && SameFields(member.Value, type))
                primary = true;
            else
                return Fail(ReceiptFormatReason.Types, Clip(member.Name), out error);
        }

        if (!(domain && primary))
            return Fail(ReceiptFormatReason.Types, domain ? type.Name : SignedTypes.Domain.Name, out error);
        error = ReceiptFormatError.None;
        return true;
    }

    private static bool SameFields(JsonElement list, Eip712Type type)
    {
        if (list.ValueKind != JsonValueKind.Array || list.GetArrayLength() != type.Fields.Count)
            return false;
        int i = 0;
        foreach (JsonElement field in list.EnumerateArray())
        {
            if (field.ValueKind != JsonValueKind.Object)
                return false;
            int members = 0;
            foreach (JsonProperty member in field.EnumerateObject())
            {
                members++;
                string expected = member.Name switch
                {
                    "name" => type.Fields[i].Name,
                    "type" => type.Fields[i].Type,
                    _ => "",
                };
                if (expected.Length == 0 || member.Value.ValueKind != JsonValueKind.String || !member.Value.ValueEquals(expected))
                    return false;
            }

            if (members != 2)
                return false;
            i++;
        }

        return true;
    }

    /// <summary>Validates a JSON value as the Solidity type and gives its canonical text.</summary>
    private static bool TryCanonical(JsonElement value, string solidityType, bool topLevel, out string canonical)
    {
        canonical = "";
        switch (solidityType)
        {
            case "uint64":
                // Top level: a JSON number, as written. In the message: a decimal string, or a number from tools that write one.
                if (!TryUint64(value, allowString: !topLevel, out ulong number))
                    return false;
                canonical = number.ToString(CultureInfo.InvariantCulture);
                return true;
            case "bytes32":
                if (value.ValueKind != JsonValueKind.String || value.GetString() is not { Length: 66 } hashText || !Hash32.TryParse(hashText, out Hash32 hash))
                    return false;
                canonical = hash.ToString();
                return true;
            case "address":
                if (value.ValueKind != JsonValueKind.String || !Address.TryParse(value.GetString(), out Address address))
                    return false;
                canonical = address.ToString();
                return true;
            case "string":
                if (value.ValueKind != JsonValueKind.String || value.GetString() is not { } text || !IsSignableString(text))
                    return false;
                canonical = text;
                return true;
            default:
                return false;
        }
    }

    private static bool TryUint64(JsonElement value, bool allowString, out ulong number)
    {
        number = 0;
        if (value.ValueKind == JsonValueKind.Number)
            return value.TryGetUInt64(out number);
        if (!allowString || value.ValueKind != JsonValueKind.String)
            return false;

        // Plain decimal only: no sign, no spaces, no leading zeros, no hex (ethers would read 0x as hex).
        string? text = value.GetString();
        return text is { Length: > 0 and <= 20 }
            && (text.Length == 1 || text[0] != '0')
            && ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out number);
    }

    private static bool IsSignableString(string text)
    {
        if (text.Length > MaxStringLength)
            return false;
        for (int i = 0; i < text.Length; i++)
        {
            if (!char.IsSurrogate(text[i]))
                continue;
            if (!char.IsHighSurrogate(text[i]) || i + 1 >= text.Length || !char.IsLowSurrogate(text[i + 1]))
                return false;
            i++;
        }

        return true;
    }

    private static int IndexOfJsonName(Eip712Type type, string jsonName)
    {
        for (int i = 0; i < type.Fields.Count; i++)
        {
            if (SnakeCase(type.Fields[i].Name) == jsonName)
                return i;
        }

        return -1;
    }

    internal static int IndexOfField(Eip712Type type, string name)
    {
        for (int i = 0; i < type.Fields.Count; i++)
        {
            if (type.Fields[i].Name == name)
                return i;
        }

        return -1;
    }

    // A hostile member name goes into an error message; keep the message one short line.
    private static string Clip(string name) => name.Length <= 64 ? name : string.Concat(name.AsSpan(0, 64), "…");

    private static bool Fail(ReceiptFormatReason reason, string field, out ReceiptFormatError error)
    {
        error = new ReceiptFormatError(reason, field);
        return false;
    }
}
