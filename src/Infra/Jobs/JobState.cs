namespace InfraMind.Node.Jobs;

/// <summary>A job's state (CONTRACT.md §3). The last six are final; a receipt carries the final one.</summary>
public enum JobState
{
    Queued,
    Preparing,
    Starting,
    Running,
    Succeeded,
    OutputInvalid,
    Failed,
    Rejected,
    TimedOut,
    Cancelled,
}

public static class JobStates
{
    /// <summary>The contract's names, in enum order.</summary>
    public static readonly string[] Codes =
        ["queued", "preparing", "starting", "running", "succeeded", "output_invalid", "failed", "rejected", "timed_out", "cancelled"];

    public static string Code(this JobState state) => Codes[(int)state];

    public static bool IsFinal(this JobState state) => state >= JobState.Succeeded;

    public static bool TryParse(ReadOnlySpan<char> code, out JobState state)
    {
        for (int i = 0; i < Codes.Length; i++)
        {
            if (code.SequenceEqual(Codes[i]))
            {
                state = (JobState)i;
                return true;
            }
        }

        state = default;
        return false;
    }
}
