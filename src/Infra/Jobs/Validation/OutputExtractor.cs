using System.Text.Json;
using InfraMind.Node.Containers.Runs;
using InfraMind.Node.Models.Bundles;

namespace InfraMind.Node.Jobs.Validation;

/// <summary>
/// What a run's answer holds. <see cref="Value"/> is what the schema checks (for <c>text</c> the text itself, else
/// JSON text). <see cref="HashedBytes"/> are the receipt's output bytes, whose keccak256 is <c>output_hash</c>
/// (CONTRACT.md §7 "the output bytes as returned"): for a rest model the output member's JSON value exactly as the
/// model wrote it (a string keeps its quotes and escapes); for a stdio model all of stdout, untrimmed. When the
/// answer has no output member at all they are the whole answer, so a refused answer still has a hash.
/// </summary>
public readonly record struct ExtractedOutput(ReadOnlyMemory<byte> Value, ReadOnlyMemory<byte> HashedBytes);

/// <summary>Turns a run's raw answer into the value its output schema checks, and checks it.</summary>
public static class OutputExtractor
{
    /// <summary>Extracts per <paramref name="protocol"/>, then validates against <paramref name="schema"/>.</summary>
    public static ValidationResult ExtractAndValidate(ModelProtocol protocol, ReadOnlyMemory<byte> answer, SchemaSpec schema, out ExtractedOutput output)
    {
        ArgumentNullException.ThrowIfNull(schema);
        ValidationResult extracted = protocol == ModelProtocol.Rest
            ? TryExtractRest(answer, schema.Kind, out output)
            : TryExtractStdio(answer, schema.Kind, out output);
        return extracted.IsValid ? schema.Validate(output.Value.Span) : extracted;
    }

    /// <summary>
    /// A rest model's response body: a JSON object with an "output" member (else "result"); anything else is
    /// <see cref="ValidationReason.Malformed"/>. For <c>text</c> the member must be a JSON string and the value is
    /// its unescaped UTF-8; for other kinds the value is the member's JSON text.
    /// </summary>
    public static ValidationResult TryExtractRest(ReadOnlyMemory<byte> body, SchemaKind kind, out ExtractedOutput output)
    {
        output = new ExtractedOutput(body, body);
        if (!ModelOutput.TryExtract(body.Span, out ReadOnlySpan<byte> member))
            return ValidationResult.Fail(ValidationReason.Malformed, "the model's answer is not a JSON object with an \"output\" (or \"result\") member: answer {\"output\": ...}");

        // ModelOutput hands back a slice of the body; find where, to keep a Memory the caller can hold.
        body.Span.Overlaps(member, out int offset);
        ReadOnlyMemory<byte> json = body.Slice(offset, member.Length);
        output = new ExtractedOutput(json, json);
        return kind == SchemaKind.Text ? UnquoteText(json, out output) : ValidationResult.Valid;
    }

    /// <summary>
    /// A stdio model's stdout. For <c>text</c> the value is the text with one trailing newline ("\n" or "\r\n")
    /// trimmed, since print() adds one; for other kinds it is stdout as JSON text (surrounding whitespace is legal JSON).
    /// </summary>
    public static ValidationResult TryExtractStdio(ReadOnlyMemory<byte> stdout, SchemaKind kind, out ExtractedOutput output)
    {
        ReadOnlyMemory<byte> value = stdout;
        if (kind == SchemaKind.Text && value.Span.EndsWith("\n"u8))
            value = value[..^(value.Span.EndsWith("\r\n"u8) ? 2 : 1)];
        output = new ExtractedOutput(value, stdout);
        return ValidationResult.Valid;
    }

    private static ValidationResult UnquoteText(ReadOnlyMemory<byte> json, out ExtractedOutput output)
    {
        output = new ExtractedOutput(json, json);
        var reader = new Utf8JsonReader(json.Span);
        reader.Read();
        if (reader.TokenType != JsonTokenType.String)
            return ValidationResult.Fail(ValidationReason.WrongType, "the model's output is not a JSON string, and the output schema is text: answer {\"output\": \"...\"}");
        if (!reader.ValueIsEscaped)
        {
            output = new ExtractedOutput(json[1..^1], json);
            return ValidationResult.Valid;
        }

        // Unescaping never lengthens UTF-8, so the escaped length is enough room.
        byte[] text = new byte[reader.ValueSpan.Length];
        try
        {
            int written = reader.CopyString(text);
            output = new ExtractedOutput(text.AsMemory(0, written), json);
            return ValidationResult.Valid;
        }
        catch (InvalidOperationException)
        {
            return ValidationResult.Fail(ValidationReason.Malformed, "the model's output string holds an escape with no UTF-8 form (a lone \\uD800-\\uDFFF surrogate): emit valid Unicode");
        }
    }
}
