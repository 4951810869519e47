namespace InfraMind.Node.Doctor;

public enum CheckOutcome
{
    Ok,
    Warning,
    Failed,

    /// <summary>Not applicable on this host or configuration (no GPU, no mesh endpoints): says why, never fails.</summary>
    Skipped,
}

/// <summary>One preflight check's verdict: what was found and, when something is wrong, how to fix it.</summary>
public sealed record CheckResult(string Name, CheckOutcome Outcome, string Detail, string? Fix = null)
{
    public static CheckResult Ok(string name, string detail) => new(name, CheckOutcome.Ok, detail);

    public static CheckResult Failed(string name, string detail, string fix) => new(name, CheckOutcome.Failed, detail, fix);

    public static CheckResult Warning(string name, string detail, string fix) => new(name, CheckOutcome.Warning, detail, fix);

    public static CheckResult Skipped(string name, string why) => new(name, CheckOutcome.Skipped, why);

    /// <summary>Splits the project's "problem; fix: remedy" error messages into a failed check.</summary>
    public static CheckResult FromError(string name, string message)
    {
        const string marker = "; fix: ";
        int at = message.IndexOf(marker, StringComparison.Ordinal);
        return at < 0
            ? Failed(name, message, "see the message above")
            : Failed(name, message[..at], message[(at + marker.Length)..]);
    }
}
