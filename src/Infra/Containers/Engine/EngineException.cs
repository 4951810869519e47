namespace InfraMind.Node.Containers.Engine;

/// <summary>Why a call to the container engine failed; callers branch on this, never on message text.</summary>
public enum EngineError
{
    /// <summary>No engine answers on the socket (missing, refused, permission denied).</summary>
    Unreachable,

    /// <summary>The engine's API is older than the node supports.</summary>
    UnsupportedVersion,

    /// <summary>The image is not in the engine.</summary>
    ImageMissing,

    /// <summary>The container (or another object) does not exist.</summary>
    NotFound,

    /// <summary>The request conflicts with the object's state (a name in use, a container already stopped).</summary>
    Conflict,

    /// <summary>The engine refused the request as malformed or not allowed (4xx).</summary>
    Rejected,

    /// <summary>The engine failed (5xx), or reported an error inside a 200 stream.</summary>
    ServerError,

    /// <summary>The engine's answer broke HTTP or JSON framing, or exceeded a size limit.</summary>
    Protocol,

    /// <summary>The engine did not answer in time.</summary>
    Timeout,
}

/// <summary>A failed engine call: what kind of failure, the HTTP status if there was one, and the engine's words.</summary>
public sealed class EngineException : Exception
{
    public EngineException(EngineError error, string message, int status = 0, Exception? inner = null)
        : base(message, inner)
    {
        Error = error;
        Status = status;
    }

    public EngineError Error { get; }

    /// <summary>The HTTP status the engine answered with; 0 when it never answered.</summary>
    public int Status { get; }
}
