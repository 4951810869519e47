namespace InfraMind.Node.Jobs.Intake;

/// <summary>
/// Why a job was not accepted (CONTRACT.md §3 and §4). The code is what a signed Rejection carries and
/// what the REST error body names; the HTTP status follows from it.
/// </summary>
public enum RejectReason
{
    Malformed,
    TooLarge,
    WrongContentType,
    BadSignature,
    UntrustedSigner,
    WrongNode,
    DeadlinePassed,
    DuplicateJob,
    InputInvalid,
    InsufficientResources,
    ModelUnavailable,
    QueueFull,
    Draining,
}

public static class RejectReasons
{
    /// <summary>Every code, in enum order: the fixed label set of the rejection metrics.</summary>
    public static readonly string[] Codes =
    [
        "malformed", "too_large", "wrong_content_type", "bad_signature", "untrusted_signer", "wrong_node",
        "deadline_passed", "duplicate_job", "input_invalid", "insufficient_resources", "model_unavailable",
        "queue_full", "draining",
    ];

    public static string Code(this RejectReason reason) => Codes[(int)reason];

    /// <summary>CONTRACT.md §4's status for each reason.</summary>
    public static int HttpStatus(this RejectReason reason) => reason switch
    {
        RejectReason.Malformed => 400,
        RejectReason.BadSignature => 401,
        RejectReason.UntrustedSigner or RejectReason.WrongNode => 403,
        RejectReason.DuplicateJob => 409,
        RejectReason.DeadlinePassed => 410,
        RejectReason.TooLarge => 413,
        RejectReason.WrongContentType => 415,
        RejectReason.InputInvalid or RejectReason.InsufficientResources or RejectReason.ModelUnavailable => 422,
        RejectReason.QueueFull => 429,
        RejectReason.Draining => 503,
        _ => 400,
    };
}

/// <summary>A job refused before it ran, with the reason code and one line that says what to fix.</summary>
public sealed class JobRejectedException(RejectReason reason, string message) : Exception(message)
{
    public RejectReason Reason { get; } = reason;

    /// <summary>The node's signed Rejection (CONTRACT.md §5) as JSON, once the pipeline has signed it.</summary>
    public byte[]? RejectionJson { get; set; }
}
