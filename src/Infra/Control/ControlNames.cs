using InfraMind.Node.Protos.Control;

namespace InfraMind.Node.Control;

/// <summary>The contract's lowercase names for the control plane's enums (CONTRACT.md §3 job states).</summary>
public static class ControlNames
{
    public static string Of(JobState state) => state switch
    {
        JobState.Queued => "queued",
        JobState.Preparing => "preparing",
        JobState.Starting => "starting",
        JobState.Running => "running",
        JobState.Succeeded => "succeeded",
        JobState.OutputInvalid => "output_invalid",
        JobState.Failed => "failed",
        JobState.Rejected => "rejected",
        JobState.TimedOut => "timed_out",
        JobState.Cancelled => "cancelled",
        _ => "unknown",
    };

    public static string Of(MeshState state) => state switch
    {
        MeshState.Standalone => "standalone",
        MeshState.Connecting => "connecting",
        MeshState.Connected => "connected",
        MeshState.Backoff => "backoff",
        _ => "unknown",
    };
}
