using InfraMind.Node.Hardware;

namespace InfraMind.Node.Containers.Runs;

/// <summary>
/// What a container run produced and what it cost. <see cref="Failure"/> is null for a clean run (exit 0,
/// output within its cap, before the deadline); otherwise it names why the run does not count as one.
/// </summary>
public sealed record RunResult(
    string ContainerId,
    string ImageId,
    long ExitCode,
    byte[] Stdout,
    byte[] Stderr,
    long StdoutBytes,
    RunFailure? Failure,
    CgroupUsage? Usage,
    TimeSpan Elapsed)
{
    /// <summary>
    /// True when the container's cgroup was read and showed every limit before the input was written; false
    /// only for a container that exited before it could be read (and so never saw the input).
    /// </summary>
    public bool LimitsVerified { get; init; }

    public bool Succeeded => Failure is null;
}
