using System.Buffers;
using System.Text;
using System.Text.Json;

namespace InfraMind.Node.Jobs.Validation;

/// <summary>
/// A JSON Schema draft-07 document, compiled by <see cref="Draft7Schema"/>. The document is held to the node's own
/// rules: at most 64 KiB, at most 32 levels deep, an object, <c>$schema</c> absent or draft-07, every <c>$ref</c> a
/// fragment of this document that resolves, no loop of schemas on one value, every <c>pattern</c> a valid regex.
/// </summary>
internal sealed class JsonSchemaDocument : SchemaSpec
{
    public const int MaxSchemaBytes = 64 * 1024;
    public const int MaxSchemaDepth = 32;

    /// <summary>Longest run of schemas applied to the same value ($ref, allOf, not, ...) before the value descends.</summary>
    public const int MaxInPlaceChain = 8;

    public const int MaxUniqueItemsArray = Draft7Schema.MaxUniqueItemsArray;

    /// <summary>
    /// Schema applications allowed per validation: a floor, plus some per byte of value. Legitimate schemas apply a
    /// few schemas per value node; anyOf/$ref fan-out that multiplies on every level of the value stops here.
    /// </summary>
    public const long BaseStepBudget = 1_000_000;
    public const long StepsPerValueByte = 4;

    private readonly Draft7Schema _schema;

    private JsonSchemaDocument(string text, ValidationLimits limits, Draft7Schema schema)
        : base(text, SchemaKind.JsonSchema, limits) => _schema = schema;

    public static JsonSchemaDocument Create(string text, ValidationLimits limits)
    {
        byte[] utf8 = Encoding.UTF8.GetBytes(text);
        if (utf8.Length > MaxSchemaBytes)
            SchemaThrow.Throw(SchemaError.TooLarge, $"the JSON Schema is {utf8.Length} bytes, over the {MaxSchemaBytes}-byte limit: simplify it");
        ValidationResult scan = JsonScan.WellFormed(utf8, MaxSchemaDepth, "the JSON Schema");
        if (!scan.IsValid)
            SchemaThrow.Throw(scan.Reason == ValidationReason.TooLarge ? SchemaError.TooLarge : SchemaError.Malformed, scan.Message!);

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(utf8, new JsonDocumentOptions { MaxDepth = MaxSchemaDepth + 1, AllowDuplicateProperties = false });
        }
        catch (JsonException e)
        {
            return SchemaThrow.Throw<JsonSchemaDocument>(SchemaError.Malformed, $"the JSON Schema is not valid JSON ({Shorten(e.Message)}): send its compact JSON text, each property once", e);
        }

        using (document)
        {
            JsonElement root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                return SchemaThrow.Throw<JsonSchemaDocument>(SchemaError.Malformed, "a JSON Schema must be a JSON object: write {\"type\": ...}");
            if (root.TryGetProperty("$schema", out JsonElement draft) && !IsDraft07(draft))
                SchemaThrow.Throw(SchemaError.UnsupportedDraft, $"$schema {Shorten(draft.GetRawText())} is not draft-07: use \"http://json-schema.org/draft-07/schema#\" or leave $schema out");

            try
            {
                // The compiled tree keeps only strings, numbers and regexes, never the document's elements.
                return new JsonSchemaDocument(text, limits, Draft7Schema.Compile(root));
            }
            catch (InvalidOperationException e)
            {
                return SchemaThrow.Throw<JsonSchemaDocument>(SchemaError.Malformed, "the JSON Schema holds an escaped lone UTF-16 surrogate (\\ud800 alone): write valid Unicode", e);
            }
        }
    }

    public override ValidationResult Validate(ReadOnlySpan<byte> value)
    {
        ValidationResult check = JsonScan.CheckBytes(value, Limits.MaxBytes, "the value");
        if (check.IsValid)
            check = JsonScan.WellFormed(value, Limits.MaxDepth, "the value");
        if (!check.IsValid)
            return check;

        // JsonDocument reads from memory it does not copy: a pooled copy of the span lives until it is disposed.
        byte[] rented = ArrayPool<byte>.Shared.Rent(value.Length);
        try
        {
            value.CopyTo(rented);
            using JsonDocument document = JsonDocument.Parse(rented.AsMemory(0, value.Length), new JsonDocumentOptions { MaxDepth = Limits.MaxDepth + 1, AllowDuplicateProperties = false });
            return _schema.Validate(document.RootElement, BaseStepBudget + (StepsPerValueByte * value.Length));
        }
        catch (JsonException e)
        {
            return ValidationResult.Fail(ValidationReason.Malformed, $"the value is not usable JSON ({Shorten(e.Message)}): write each property name once");
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    private static bool IsDraft07(JsonElement draft) =>
        draft.ValueKind == JsonValueKind.String
        && draft.GetString()!.TrimEnd('#') is "http://json-schema.org/draft-07/schema" or "https://json-schema.org/draft-07/schema";

    internal static string Shorten(string text) => text.Length <= 200 ? text : text[..200] + "...";
}
