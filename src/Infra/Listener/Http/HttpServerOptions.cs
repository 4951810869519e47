namespace InfraMind.Node.Listener.Http;

/// <summary>Limits and timeouts of <see cref="HttpServer"/>. The defaults suit a public listener.</summary>
public sealed record HttpServerOptions
{
    /// <summary>Request line including CRLF; longer gets 414.</summary>
    public int MaxRequestLineBytes { get; init; } = 8 * 1024;

    /// <summary>One header line including CRLF; longer gets 431.</summary>
    public int MaxHeaderLineBytes { get; init; } = 8 * 1024;

    /// <summary>Header fields per request; more get 431.</summary>
    public int MaxHeaderCount { get; init; } = 64;

    /// <summary>All header lines together; more gets 431.</summary>
    public int MaxHeaderBytes { get; init; } = 32 * 1024;

    /// <summary>Body limit of <see cref="HttpExchange.ReadBodyAsync"/> when the handler passes none; larger gets 413.</summary>
    public long MaxRequestBodyBytes { get; init; } = 1024 * 1024;

    /// <summary>Open connections; one more is accepted, answered 503 and closed.</summary>
    public int MaxConnections { get; init; } = 1024;

    /// <summary>From the first byte of a request to the end of its head; slower gets 408 and a close.</summary>
    public TimeSpan HeaderTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How long an idle keep-alive connection is kept before it is closed.</summary>
    public TimeSpan KeepAliveTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>A body read slower than this (after <see cref="MinBodyRateGrace"/>) gets 408 and a close.</summary>
    public int MinBodyBytesPerSecond { get; init; } = 240;

    public TimeSpan MinBodyRateGrace { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How often timeouts are checked; their resolution. Tests shorten it.</summary>
    public TimeSpan HeartbeatInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Mode of a Unix socket file the server creates.</summary>
    public UnixFileMode UnixSocketMode { get; init; } =
        UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite;

    public int ListenBacklog { get; init; } = 512;

    internal HeadLimits HeadLimits => new(MaxRequestLineBytes, MaxHeaderCount, MaxHeaderBytes, MaxHeaderLineBytes);
}

/// <summary>What the server calls for each request. Exceptions become a 500 (when nothing was sent yet).</summary>
public interface IHttpHandler
{
    /// <summary>
    /// Handles one request. <paramref name="ct"/> is cancelled when the client goes away during a streamed response
    /// or the server is force-stopped.
    /// </summary>
    ValueTask HandleAsync(HttpExchange exchange, CancellationToken ct);
}

/// <summary>A request the server refuses, with the reason that picks its status; thrown by body reads.</summary>
public sealed class HttpRequestRejectedException : Exception
{
    public HttpRequestRejectedException(HttpParseError reason)
        : base(HttpParseErrors.MessageOf(reason))
    {
        Reason = reason;
    }

    public HttpParseError Reason { get; }

    public int StatusCode => HttpParseErrors.StatusOf(Reason);
}
