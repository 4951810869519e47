using System.Collections.Concurrent;
using System.Text;

namespace InfraMind.Node.Jobs.Validation;

/// <summary>Which family a schema belongs to; it decides how a value's bytes are read.</summary>
public enum SchemaKind
{
    /// <summary><c>text</c>: the value is raw UTF-8 text.</summary>
    Text,

    /// <summary><c>json</c>: the value is the text of any JSON value.</summary>
    Json,

    /// <summary><c>embedding&lt;float&gt;</c>: the value is the text of a JSON array of numbers.</summary>
    Embedding,

    /// <summary><c>vector&lt;float&gt;</c>: the value is the text of a JSON array of numbers.</summary>
    Vector,

    /// <summary>A JSON Schema draft-07 document: the value is the text of a JSON value it must accept.</summary>
    JsonSchema,
}

/// <summary>
/// A compiled job schema (CONTRACT.md §3 <c>expected_schema</c>): one of the short types or a JSON Schema draft-07
/// document given as its JSON text. Compiled schemas are immutable, safe to share across threads, and cached by
/// their exact text.
/// </summary>
public abstract class SchemaSpec
{
    /// <summary>At most this many compiled schemas are kept; past it the cache starts over (schemas are few per node).</summary>
    public const int CacheCapacity = 256;

    private static readonly ConcurrentDictionary<string, SchemaSpec> Cache = new(StringComparer.Ordinal);
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private protected SchemaSpec(string text, SchemaKind kind, ValidationLimits limits)
    {
        Text = text;
        Kind = kind;
        Limits = limits;
    }

    /// <summary>The schema's text exactly as given (what the signed Job struct carries).</summary>
    public string Text { get; }

    public SchemaKind Kind { get; }

    public ValidationLimits Limits { get; }

    /// <summary>
    /// Checks one value. For <see cref="SchemaKind.Text"/> the bytes are the text itself; for every other kind they
    /// are the UTF-8 text of a JSON value. A job's input goes in as its UTF-8 bytes either way (CONTRACT.md §3);
    /// an output goes in as <see cref="OutputExtractor"/> produced it.
    /// </summary>
    public abstract ValidationResult Validate(ReadOnlySpan<byte> value);

    /// <summary>Checks a job's <c>input</c> string; a string that is not valid UTF-16 (a lone surrogate) is Malformed.</summary>
    public ValidationResult Validate(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        byte[] bytes;
        try
        {
            bytes = StrictUtf8.GetBytes(value);
        }
        catch (EncoderFallbackException)
        {
            return ValidationResult.Fail(ValidationReason.Malformed, "the input holds a lone UTF-16 surrogate, which has no UTF-8 form: send valid Unicode");
        }

        return Validate(bytes);
    }

    /// <summary>Compiles <paramref name="schemaText"/> (or returns the cached compile); throws <see cref="SchemaException"/>.</summary>
    public static SchemaSpec Parse(string schemaText)
    {
        ArgumentNullException.ThrowIfNull(schemaText);
        if (Cache.TryGetValue(schemaText, out SchemaSpec? cached))
            return cached;

        SchemaSpec compiled = Compile(schemaText, ValidationLimits.Default);
        // Bounded: a stream of distinct schemas (hostile or not) can never grow the cache past its capacity.
        if (Cache.Count >= CacheCapacity)
            Cache.Clear();
        return Cache.GetOrAdd(schemaText, compiled);
    }

    /// <summary>As <see cref="Parse"/>, but returns the reason instead of throwing.</summary>
    public static bool TryParse(string schemaText, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out SchemaSpec? schema, out SchemaException? error)
    {
        try
        {
            schema = Parse(schemaText);
            error = null;
            return true;
        }
        catch (SchemaException e)
        {
            schema = null;
            error = e;
            return false;
        }
    }

    /// <summary>Compiles without the cache, under explicit limits (tests, and callers with their own caps).</summary>
    public static SchemaSpec Compile(string schemaText, ValidationLimits limits)
    {
        ArgumentNullException.ThrowIfNull(schemaText);
        ArgumentNullException.ThrowIfNull(limits);
        switch (schemaText)
        {
            case "text": return new TextSchema(schemaText, limits);
            case "json": return new JsonValueSchema(schemaText, limits);
            case "embedding<float>": return new FloatArraySchema(schemaText, SchemaKind.Embedding, limits);
            case "vector<float>": return new FloatArraySchema(schemaText, SchemaKind.Vector, limits);
        }

        if (schemaText.AsSpan().TrimStart().StartsWith("{"))
            return JsonSchemaDocument.Create(schemaText, limits);

        string shown = schemaText.Length > 40 ? schemaText[..40] + "..." : schemaText;
        return SchemaThrow.Throw<SchemaSpec>(SchemaError.UnknownType, $"unknown schema type \"{shown}\": use text, json, embedding<float>, vector<float> or a JSON Schema object");
    }

    internal static int CachedCount => Cache.Count;
}
