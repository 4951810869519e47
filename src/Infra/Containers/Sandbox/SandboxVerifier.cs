using InfraMind.Node.Containers.Runs;
using InfraMind.Node.Hardware;

namespace InfraMind.Node.Containers.Sandbox;

/// <summary>The rule that decides whether a container's cgroup shows the sandbox that was asked for.</summary>
public static class SandboxVerifier
{
    /// <summary>
    /// True when every limit in <paramref name="wanted"/> is in force in <paramref name="actual"/>; otherwise
    /// throws <see cref="SandboxException"/> with <see cref="RunFailure.LimitsNotInForce"/> naming each one.
    /// </summary>
    public static bool Check(string containerId, CgroupLimits actual, CgroupLimits wanted)
    {
        ArgumentNullException.ThrowIfNull(actual);
        IReadOnlyList<LimitMismatch> mismatches = actual.CompareTo(wanted);
        if (mismatches.Count > 0)
        {
            throw new SandboxException(RunFailure.LimitsNotInForce,
                $"container {containerId} refused: {string.Join("; ", mismatches.Select(m => m.Message))}");
        }

        return true;
    }
}
