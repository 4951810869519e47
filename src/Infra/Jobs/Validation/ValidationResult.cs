namespace InfraMind.Node.Jobs.Validation;

/// <summary>Why a value failed its schema; callers branch on this, never on message text.</summary>
public enum ValidationReason
{
    /// <summary>The value is valid.</summary>
    None,

    /// <summary>The value is the wrong kind: a number where text was wanted, a string inside a vector, a nested array.</summary>
    WrongType,

    /// <summary>A vector or embedding with no elements.</summary>
    Empty,

    /// <summary>A number that is NaN or infinite, or one that float32 cannot hold (it would become infinite).</summary>
    NotFinite,

    /// <summary>A vector or embedding with more elements than the limit.</summary>
    TooLong,

    /// <summary>The value is over the byte limit, or JSON nested deeper than the depth limit.</summary>
    TooLarge,

    /// <summary>Not well-formed: broken or truncated JSON, invalid UTF-8, a NUL in text, a byte-order mark, a bad answer envelope.</summary>
    Malformed,

    /// <summary>Well-formed JSON that a JSON Schema document rejects.</summary>
    SchemaViolation,
}

/// <summary>
/// The outcome of one validation: <see cref="ValidationReason.None"/> and no message when valid, else the reason
/// and one line that names what was wrong. A struct so the valid path allocates nothing.
/// </summary>
public readonly record struct ValidationResult(ValidationReason Reason, string? Message)
{
    public static ValidationResult Valid => default;

    public bool IsValid => Reason == ValidationReason.None;

    public static ValidationResult Fail(ValidationReason reason, string message) => new(reason, message);

    public override string ToString() => IsValid ? "valid" : $"{Reason}: {Message}";
}

/// <summary>
/// Bounds on a value. The byte default matches the runners' 16 MiB output cap (RunLimits.MaxStdoutBytes,
/// RestContainer.MaxAnswerBytes), so a value the runner kept is never refused for size alone.
/// </summary>
public sealed record ValidationLimits(int MaxBytes = 16 << 20, int MaxVectorLength = 65_536, int MaxDepth = 64)
{
    public static ValidationLimits Default { get; } = new();
}
