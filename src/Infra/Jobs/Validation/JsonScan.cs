using System.Text.Json;
using System.Text.Unicode;

namespace InfraMind.Node.Jobs.Validation;

/// <summary>
/// Checks shared by every JSON-carrying schema, all on <see cref="Utf8JsonReader"/> over the caller's bytes:
/// size and encoding first (cheap, before any parsing), then one token pass.
/// </summary>
internal static class JsonScan
{
    /// <summary>Size, byte-order mark and UTF-8, in that order, so an oversized value is never scanned.</summary>
    public static ValidationResult CheckBytes(ReadOnlySpan<byte> json, int maxBytes, string what)
    {
        if (json.Length > maxBytes)
            return ValidationResult.Fail(ValidationReason.TooLarge, $"{what} is {json.Length} bytes, over the {maxBytes}-byte limit: return less");
        if (json.StartsWith("\xEF\xBB\xBF"u8))
            return ValidationResult.Fail(ValidationReason.Malformed, $"{what} starts with a UTF-8 byte-order mark: write JSON without one");
        if (!Utf8.IsValid(json))
            return ValidationResult.Fail(ValidationReason.Malformed, $"{what} is not valid UTF-8: emit UTF-8 JSON");
        return ValidationResult.Valid;
    }

    /// <summary>One pass over exactly one JSON value, nested at most <paramref name="maxDepth"/> levels.</summary>
    public static ValidationResult WellFormed(ReadOnlySpan<byte> json, int maxDepth, string what)
    {
        // The reader's own limit is one more than ours so that our check, with its clearer reason, fires first.
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = maxDepth + 1 });
        try
        {
            if (!reader.Read())
                return ValidationResult.Fail(ValidationReason.Malformed, $"{what} is empty: write one JSON value");
            do
            {
                if (reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray && reader.CurrentDepth >= maxDepth)
                    return ValidationResult.Fail(ValidationReason.TooLarge, $"{what} is nested deeper than {maxDepth} levels: flatten it");
            }
            while (reader.Read());
        }
        catch (JsonException)
        {
            return ReaderFailure(json, reader.BytesConsumed, what);
        }

        return ValidationResult.Valid;
    }

    /// <summary>
    /// Names a reader failure. JSON cannot encode NaN or Infinity, but a stdio model's stdout may print them
    /// (Python's json.dumps does): those get <see cref="ValidationReason.NotFinite"/>, not a bare parse error.
    /// </summary>
    public static ValidationResult ReaderFailure(ReadOnlySpan<byte> json, long consumed, string what)
    {
        ReadOnlySpan<byte> rest = json[(int)consumed..].TrimStart(" \t\r\n,[:"u8);
        if (rest.StartsWith("NaN"u8) || rest.StartsWith("Infinity"u8) || rest.StartsWith("-Infinity"u8) || rest.StartsWith("+Infinity"u8))
            return ValidationResult.Fail(ValidationReason.NotFinite, $"{what} holds NaN or Infinity at byte {consumed}: only finite numbers are allowed");
        if (json[(int)consumed..].Trim(" \t\r\n"u8).IsEmpty)
            return ValidationResult.Fail(ValidationReason.Malformed, $"{what} ends early (truncated JSON after {consumed} bytes): write the whole value");
        return ValidationResult.Fail(ValidationReason.Malformed, $"{what} is not valid JSON near byte {consumed}: write one well-formed JSON value");
    }
}
