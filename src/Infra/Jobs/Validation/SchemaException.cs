using System.Diagnostics.CodeAnalysis;

namespace InfraMind.Node.Jobs.Validation;

/// <summary>Why a schema text was refused; callers branch on this, never on message text.</summary>
public enum SchemaError
{
    /// <summary>A short type the node does not know (not text, json, embedding&lt;float&gt;, vector&lt;float&gt;, nor a JSON object).</summary>
    UnknownType,

    /// <summary>A JSON Schema document that is not valid JSON, not an object, or that the library cannot read (a bad keyword value, a bad regex).</summary>
    Malformed,

    /// <summary>A JSON Schema document over 64 KiB or nested deeper than 32 levels.</summary>
    TooLarge,

    /// <summary>A <c>$ref</c> that leaves the document, or a local one that points at nothing.</summary>
    UnresolvableRef,

    /// <summary>
    /// <c>$ref</c>s (with allOf/anyOf/oneOf/not/if/then/else) that loop back without descending into the value, or
    /// chain deeper than the limit: evaluating them would recurse until the stack overflowed.
    /// </summary>
    CircularRef,

    /// <summary>A <c>$schema</c> that names a draft other than draft-07.</summary>
    UnsupportedDraft,
}

/// <summary>A refused schema: what kind of failure, and words that name it and the fix.</summary>
public sealed class SchemaException(SchemaError error, string message, Exception? inner = null) : Exception(message, inner)
{
    public SchemaError Error { get; } = error;
}

/// <summary>Throws from one place so the compile paths stay small.</summary>
internal static class SchemaThrow
{
    [DoesNotReturn]
    public static void Throw(SchemaError error, string message, Exception? inner = null) =>
        throw new SchemaException(error, message, inner);

    [DoesNotReturn]
    public static T Throw<T>(SchemaError error, string message, Exception? inner = null) =>
        throw new SchemaException(error, message, inner);
}
