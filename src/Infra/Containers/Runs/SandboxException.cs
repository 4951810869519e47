namespace InfraMind.Node.Containers.Runs;

/// <summary>Why a job's container could not be run, or did not finish as a successful run.</summary>
public enum RunFailure
{
    /// <summary>No engine answers.</summary>
    EngineUnreachable,

    /// <summary>The model's image is not in the engine.</summary>
    ImageMissing,

    /// <summary>The container's cgroup does not show the limits that were asked: the job is refused.</summary>
    LimitsNotInForce,

    /// <summary>The kernel killed the container for exceeding its memory limit.</summary>
    OomKilled,

    /// <summary>The container exited with a non-zero status.</summary>
    NonZeroExit,

    /// <summary>The container wrote more output than the cap.</summary>
    OutputTooLarge,

    /// <summary>The deadline passed; the container was killed.</summary>
    Deadline,

    /// <summary>The engine failed in another way while running the container.</summary>
    Engine,
}

/// <summary>A run that could not be carried out (before or outside the model's own behaviour).</summary>
public sealed class SandboxException : Exception
{
    public SandboxException(RunFailure failure, string message, Exception? inner = null)
        : base(message, inner)
    {
        Failure = failure;
    }

    public RunFailure Failure { get; }
}
