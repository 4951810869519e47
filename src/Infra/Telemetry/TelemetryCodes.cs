namespace InfraMind.Node.Telemetry;

/// <summary>The final states a job can end in (CONTRACT.md §3); each is one <c>state</c> label of <c>inframind_jobs_total</c>.</summary>
public enum JobFinalState
{
    Succeeded,

    /// <summary>Ran, but its output failed the output schema.</summary>
    OutputInvalid,
    Failed,

    /// <summary>Refused at intake; recorded through <see cref="NodeTelemetry.RecordRejection(RejectionReason)"/>, which names the reason.</summary>
    Rejected,
    TimedOut,
    Cancelled,
}

/// <summary>
/// Why a job was refused. A closed set so the <c>reason</c> label of <c>inframind_rejections_total</c> has bounded
/// cardinality: a code from outside the set is counted as <see cref="Other"/>, never as a new label value.
/// </summary>
public enum RejectionReason
{
    BadSignature,
    UntrustedSigner,
    WrongNode,
    DeadlinePassed,
    DuplicateJob,
    InputInvalid,
    InsufficientResources,
    QueueFull,
    Draining,
    Malformed,
    TooLarge,

    /// <summary>Any code not listed above.</summary>
    Other,
}

/// <summary>The state of the mesh link to the scheduler.</summary>
public enum MeshLinkState
{
    Disconnected,
    Connecting,
    Connected,
}

/// <summary>The wire names of the telemetry enums: snake_case as CONTRACT.md writes them, in UTF-8 and as strings.</summary>
public static class TelemetryCodes
{
    public const int JobStateCount = (int)JobFinalState.Cancelled + 1;
    public const int RejectionReasonCount = (int)RejectionReason.Other + 1;

    private static readonly string[] StateNames =
        ["succeeded", "output_invalid", "failed", "rejected", "timed_out", "cancelled"];

    private static readonly string[] ReasonNames =
    [
        "bad_signature", "untrusted_signer", "wrong_node", "deadline_passed", "duplicate_job", "input_invalid",
        "insufficient_resources", "queue_full", "draining", "malformed", "too_large", "other",
    ];

    private static readonly string[] MeshNames = ["disconnected", "connecting", "connected"];

    public static string Name(JobFinalState state) => StateNames[CheckedIndex((int)state, JobStateCount, nameof(state))];

    public static string Name(RejectionReason reason) => ReasonNames[CheckedIndex((int)reason, RejectionReasonCount, nameof(reason))];

    public static string Name(MeshLinkState state) => MeshNames[CheckedIndex((int)state, MeshNames.Length, nameof(state))];

    /// <summary>The reason for a wire code ("queue_full"); false for a code outside the set (exact, case-sensitive match).</summary>
    public static bool TryParseReason(ReadOnlySpan<char> code, out RejectionReason reason)
    {
        for (int i = 0; i < ReasonNames.Length; i++)
        {
            if (code.SequenceEqual(ReasonNames[i]))
            {
                reason = (RejectionReason)i;
                return true;
            }
        }

        reason = RejectionReason.Other;
        return false;
    }

    /// <summary>The state for a wire name ("timed_out"); false for anything else, including non-final states like "running".</summary>
    public static bool TryParseState(ReadOnlySpan<char> name, out JobFinalState state)
    {
        for (int i = 0; i < StateNames.Length; i++)
        {
            if (name.SequenceEqual(StateNames[i]))
            {
                state = (JobFinalState)i;
                return true;
            }
        }

        state = default;
        return false;
    }

    /// <summary>The state label as UTF-8, for the exposition writer (no encoding per scrape).</summary>
    internal static ReadOnlySpan<byte> Utf8Name(JobFinalState state) => state switch
    {
        JobFinalState.Succeeded => "succeeded"u8,
        JobFinalState.OutputInvalid => "output_invalid"u8,
        JobFinalState.Failed => "failed"u8,
        JobFinalState.Rejected => "rejected"u8,
        JobFinalState.TimedOut => "timed_out"u8,
        _ => "cancelled"u8,
    };

    internal static ReadOnlySpan<byte> Utf8Name(RejectionReason reason) => reason switch
    {
        RejectionReason.BadSignature => "bad_signature"u8,
        RejectionReason.UntrustedSigner => "untrusted_signer"u8,
        RejectionReason.WrongNode => "wrong_node"u8,
        RejectionReason.DeadlinePassed => "deadline_passed"u8,
        RejectionReason.DuplicateJob => "duplicate_job"u8,
        RejectionReason.InputInvalid => "input_invalid"u8,
        RejectionReason.InsufficientResources => "insufficient_resources"u8,
        RejectionReason.QueueFull => "queue_full"u8,
        RejectionReason.Draining => "draining"u8,
        RejectionReason.Malformed => "malformed"u8,
        RejectionReason.TooLarge => "too_large"u8,
        _ => "other"u8,
    };

    private static int CheckedIndex(int value, int count, string parameter)
    {
        if ((uint)value >= (uint)count)
            ThrowHelper.ThrowArgument(parameter, $"{value} is not a defined value; use one of the enum's named members");
        return value;
    }
}
