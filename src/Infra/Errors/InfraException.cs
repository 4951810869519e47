namespace InfraMind.Node.Errors;

/// <summary>What went wrong, in words a caller can branch on; the exit code follows from it.</summary>
public enum FailureKind
{
    /// <summary>The command line was wrong (exit 2).</summary>
    Usage,

    /// <summary>The configuration file or an INFRAMIND_ variable was wrong (exit 2).</summary>
    Configuration,

    /// <summary>The identity key is missing, unreadable, malformed or too open (exit 1).</summary>
    Identity,

    /// <summary>Anything else that failed while doing the work (exit 1).</summary>
    Runtime,
}

/// <summary>
/// The one exception type the CLI turns into a one-line error. The message names the problem and the fix.
/// </summary>
public sealed class InfraException : Exception
{
    public InfraException(FailureKind kind, string message, Exception? inner = null)
        : base(message, inner)
    {
        Kind = kind;
    }

    public FailureKind Kind { get; }

    /// <summary>CONTRACT.md §1: 2 for usage or configuration errors, 1 for runtime failures.</summary>
    public int ExitCode => Kind is FailureKind.Usage or FailureKind.Configuration ? 2 : 1;
}
