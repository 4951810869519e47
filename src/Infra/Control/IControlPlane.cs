using Grpc.Core;
using InfraMind.Node.Protos.Control;

namespace InfraMind.Node.Control;

/// <summary>
/// What the running agent answers on the control socket; <see cref="ControlService"/> decodes the calls and
/// encodes the replies. Methods throw <see cref="ControlPlaneException"/> for a refusal the caller should see.
/// </summary>
public interface IControlPlane
{
    StatusReply GetStatus();

    ListJobsReply ListJobs(ListJobsRequest request);

    /// <summary>Job events as they happen; ends when <paramref name="cancellationToken"/> fires (the client left).</summary>
    IAsyncEnumerable<JobEvent> WatchJobs(WatchJobsRequest request, CancellationToken cancellationToken);

    DrainReply Drain(DrainRequest request);

    ListCacheReply ListCache();

    PruneCacheReply PruneCache(PruneCacheRequest request);
}

/// <summary>A control call refused on purpose, with the gRPC status and the one line the CLI prints.</summary>
public sealed class ControlPlaneException : Exception
{
    public ControlPlaneException(StatusCode status, string message)
        : base(message)
    {
        Status = status;
    }

    public StatusCode Status { get; }
}

/// <summary>The response body of one call, written by <see cref="ControlService"/>; an adapter puts it on the wire.</summary>
/// <remarks>
/// The adapter answers HTTP 200 with content-type application/grpc-web+proto before the first write
/// (every outcome, errors included, travels in the trailer frame), and streams the body (chunked).
/// </remarks>
public interface IGrpcWebResponse
{
    ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken);

    /// <summary>Pushes what was written to the client now: each streamed event is flushed on its own.</summary>
    ValueTask FlushAsync(CancellationToken cancellationToken);
}
