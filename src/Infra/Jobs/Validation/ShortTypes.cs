using System.Text.Json;
using System.Text.Unicode;

namespace InfraMind.Node.Jobs.Validation;

/// <summary><c>text</c>: any UTF-8 string without NUL, within the byte limit. The value is the text itself, not JSON.</summary>
internal sealed class TextSchema(string text, ValidationLimits limits) : SchemaSpec(text, SchemaKind.Text, limits)
{
    public override ValidationResult Validate(ReadOnlySpan<byte> value)
    {
        if (value.Length > Limits.MaxBytes)
            return ValidationResult.Fail(ValidationReason.TooLarge, $"the text is {value.Length} bytes, over the {Limits.MaxBytes}-byte limit: return less");
        if (!Utf8.IsValid(value))
            return ValidationResult.Fail(ValidationReason.Malformed, "the text is not valid UTF-8: emit UTF-8");
        int nul = value.IndexOf((byte)0);
        if (nul >= 0)
            return ValidationResult.Fail(ValidationReason.Malformed, $"the text holds a NUL byte at {nul}: text may not contain NUL");
        return ValidationResult.Valid;
    }
}

/// <summary><c>json</c>: exactly one well-formed JSON value of any kind, nested at most 64 levels.</summary>
internal sealed class JsonValueSchema(string text, ValidationLimits limits) : SchemaSpec(text, SchemaKind.Json, limits)
{
    public override ValidationResult Validate(ReadOnlySpan<byte> value)
    {
        ValidationResult bytes = JsonScan.CheckBytes(value, Limits.MaxBytes, "the JSON value");
        return bytes.IsValid ? JsonScan.WellFormed(value, Limits.MaxDepth, "the JSON value") : bytes;
    }
}

/// <summary>
/// <c>embedding&lt;float&gt;</c> and <c>vector&lt;float&gt;</c>: a non-empty flat JSON array of finite numbers, each one
/// float32 can hold, at most <see cref="ValidationLimits.MaxVectorLength"/> long. One reader pass, no allocation when
/// valid. An all-zero embedding is allowed: it is well-formed, and whether it is useful is the caller's call, not
/// the transport's (a model may legitimately emit it for empty input).
/// </summary>
internal sealed class FloatArraySchema(string text, SchemaKind kind, ValidationLimits limits) : SchemaSpec(text, kind, limits)
{
    public override ValidationResult Validate(ReadOnlySpan<byte> value)
    {
        string what = Kind == SchemaKind.Embedding ? "the embedding" : "the vector";
        ValidationResult bytes = JsonScan.CheckBytes(value, Limits.MaxBytes, what);
        if (!bytes.IsValid)
            return bytes;

        var reader = new Utf8JsonReader(value);
        int count = 0;
        try
        {
            if (!reader.Read())
                return ValidationResult.Fail(ValidationReason.Malformed, $"{what} is empty: write a JSON array of numbers");
            if (reader.TokenType != JsonTokenType.StartArray)
                return ValidationResult.Fail(ValidationReason.WrongType, $"{what} is a JSON {Describe(reader.TokenType)}, not an array: write [n, n, ...]");

            while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
            {
                if (reader.TokenType != JsonTokenType.Number)
                    return ValidationResult.Fail(ValidationReason.WrongType, $"{what}[{count}] is a JSON {Describe(reader.TokenType)}, not a number: write a flat array of numbers");
                // TryGetDouble is false for a literal beyond double's range (1e400); the cast catches 1e39, which
                // double holds but float32 would turn into infinity.
                if (!reader.TryGetDouble(out double number) || !float.IsFinite((float)number))
                    return ValidationResult.Fail(ValidationReason.NotFinite, $"{what}[{count}] is beyond float32's range (±3.4e38): scale the values");
                if (++count > Limits.MaxVectorLength)
                    return ValidationResult.Fail(ValidationReason.TooLong, $"{what} has more than {Limits.MaxVectorLength} elements: return a shorter one");
            }

            // Anything after the closing bracket other than whitespace makes the reader throw here.
            while (reader.Read())
            {
            }
        }
        catch (JsonException)
        {
            return JsonScan.ReaderFailure(value, reader.BytesConsumed, what);
        }

        return count == 0
            ? ValidationResult.Fail(ValidationReason.Empty, $"{what} is an empty array: return at least one number")
            : ValidationResult.Valid;
    }

    private static string Describe(JsonTokenType token) => token switch
    {
        JsonTokenType.StartObject => "object",
        JsonTokenType.StartArray => "array",
        JsonTokenType.String => "string",
        JsonTokenType.Number => "number",
        JsonTokenType.True or JsonTokenType.False => "boolean",
        JsonTokenType.Null => "null",
        _ => "token",
    };
}
