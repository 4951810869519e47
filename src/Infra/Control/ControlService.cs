using System.Buffers;
using Google.Protobuf;
using Grpc.Core;
using InfraMind.Node.Protos.Control;

namespace InfraMind.Node.Control;

/// <summary>
/// The server side of `inframind.node.v1.Control` over gRPC-Web, independent of the HTTP server: the
/// listener checks the request with <see cref="CheckRequest"/>, reads the body (at most
/// <see cref="MaxRequestBodyBytes"/>) and hands it to <see cref="HandleAsync"/>, which writes the response
/// body (data frames, then the trailer frame) to an <see cref="IGrpcWebResponse"/>.
/// </summary>
public sealed class ControlService
{
    public const string ServicePath = "/inframind.node.v1.Control/";

    /// <summary>One frame header plus the largest message: a body over this is refused before it is read.</summary>
    public const int MaxRequestBodyBytes = GrpcWeb.HeaderLength + GrpcWeb.MaxMessageBytes;

    private const string Methods = "GetStatus, ListJobs, WatchJobs, Drain, ListCache, PruneCache";

    private readonly IControlPlane _plane;
    private readonly Action<string, Exception>? _onError;

    /// <param name="plane">The agent's answers.</param>
    /// <param name="onError">Told of every unexpected exception (method name, exception), for the agent's log.</param>
    public ControlService(IControlPlane plane, Action<string, Exception>? onError = null)
    {
        _plane = plane;
        _onError = onError;
    }

    /// <summary>
    /// The HTTP status to answer before any gRPC happens: 200 to go on to <see cref="HandleAsync"/>, 404 for a
    /// path outside the service, 405 for a method other than POST, 415 for a content type other than gRPC-Web.
    /// </summary>
    public static int CheckRequest(string method, string path, string? contentType)
    {
        if (!path.StartsWith(ServicePath, StringComparison.Ordinal))
            return 404;
        if (method != "POST")
            return 405;
        if (contentType is null || !GrpcWeb.IsGrpcWebContentType(contentType))
            return 415;
        return 200;
    }

    /// <summary>
    /// Runs one call: decodes the request in <paramref name="body"/>, calls the plane, writes the reply frames
    /// and the trailer. Returns the gRPC status written (<see cref="StatusCode.Cancelled"/> when the client
    /// went away mid-stream, in which case no trailer is written).
    /// </summary>
    public async ValueTask<StatusCode> HandleAsync(string path, ReadOnlySequence<byte> body, IGrpcWebResponse sink, CancellationToken cancellationToken)
    {
        string method = path.StartsWith(ServicePath, StringComparison.Ordinal) ? path[ServicePath.Length..] : path;
        var output = new ArrayBufferWriter<byte>(256);
        var guarded = new GuardedSink(sink);
        StatusCode status;
        string? message = null;
        try
        {
            status = method switch
            {
                "GetStatus" => Unary(body, GetStatusRequest.Parser, _ => _plane.GetStatus(), output, out message),
                "ListJobs" => Unary(body, ListJobsRequest.Parser, _plane.ListJobs, output, out message),
                "Drain" => Unary(body, DrainRequest.Parser, _plane.Drain, output, out message),
                "ListCache" => Unary(body, ListCacheRequest.Parser, _ => _plane.ListCache(), output, out message),
                "PruneCache" => Unary(body, PruneCacheRequest.Parser, _plane.PruneCache, output, out message),
                "WatchJobs" => StatusCode.OK, // streamed below: it needs awaits
                _ => Refuse(StatusCode.Unimplemented, $"unknown method '{method}'; the Control service has {Methods}", out message),
            };

            if (method == "WatchJobs" && status == StatusCode.OK)
            {
                GrpcWebFrameError error = GrpcWeb.TryReadUnaryRequest(body, GrpcWeb.MaxMessageBytes, out ReadOnlySequence<byte> request);
                if (error != GrpcWebFrameError.None)
                    status = Refuse(GrpcWeb.ToStatus(error), GrpcWeb.Describe(error), out message);
                else if (!TryParse(request, WatchJobsRequest.Parser, out WatchJobsRequest? watch, out message))
                    status = StatusCode.InvalidArgument;
                else
                    await StreamAsync(watch, output, guarded, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return StatusCode.Cancelled; // the client left: nobody reads a trailer now
        }
        catch (ControlPlaneException e)
        {
            status = e.Status;
            message = e.Message;
        }
#pragma warning disable CA1031 // The boundary of a call: an unexpected failure becomes a status, never a dead connection.
        catch (Exception e) when (!guarded.Broken) // a broken connection is the listener's to handle: let it through
#pragma warning restore CA1031
        {
            _onError?.Invoke(method, e);
            status = StatusCode.Internal;
            message = $"the agent failed while answering {method}; see the agent's log";
        }

        if (status != StatusCode.OK)
            output.ResetWrittenCount(); // a failed call sends no partial reply, only its trailer
        GrpcWeb.WriteTrailer(output, status, message);
        await sink.WriteAsync(output.WrittenMemory, cancellationToken).ConfigureAwait(false);
        await sink.FlushAsync(cancellationToken).ConfigureAwait(false);
        return status;
    }

    private static StatusCode Unary<TRequest, TReply>(
        ReadOnlySequence<byte> body, MessageParser<TRequest> parser, Func<TRequest, TReply> call, ArrayBufferWriter<byte> output, out string? message)
        where TRequest : IMessage<TRequest>
        where TReply : IMessage<TReply>
    {
        GrpcWebFrameError error = GrpcWeb.TryReadUnaryRequest(body, GrpcWeb.MaxMessageBytes, out ReadOnlySequence<byte> bytes);
        if (error != GrpcWebFrameError.None)
            return Refuse(GrpcWeb.ToStatus(error), GrpcWeb.Describe(error), out message);
        if (!TryParse(bytes, parser, out TRequest? request, out message))
            return StatusCode.InvalidArgument;
        GrpcWeb.WriteMessage(output, call(request));
        message = null;
        return StatusCode.OK;
    }

    private async Task StreamAsync(WatchJobsRequest request, ArrayBufferWriter<byte> output, GuardedSink sink, CancellationToken cancellationToken)
    {
        await foreach (JobEvent e in _plane.WatchJobs(request, cancellationToken).WithCancellation(cancellationToken).ConfigureAwait(false))
        {
            output.ResetWrittenCount();
            GrpcWeb.WriteMessage(output, e);
            await sink.WriteAsync(output.WrittenMemory, cancellationToken).ConfigureAwait(false);
            await sink.FlushAsync(cancellationToken).ConfigureAwait(false); // live: each event leaves now
        }

        output.ResetWrittenCount();
    }

    private static bool TryParse<T>(ReadOnlySequence<byte> bytes, MessageParser<T> parser, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out T? request, out string? message)
        where T : IMessage<T>
    {
        try
        {
            request = parser.ParseFrom(bytes);
            message = null;
            return true;
        }
        catch (InvalidProtocolBufferException e)
        {
            request = default;
            message = $"the request is not a valid {typeof(T).Name} message ({e.Message}); send the message the method expects";
            return false;
        }
    }

    private static StatusCode Refuse(StatusCode status, string text, out string? message)
    {
        message = text;
        return status;
    }

    /// <summary>Remembers whether the connection failed, so its exception is not mistaken for the plane's.</summary>
    private sealed class GuardedSink(IGrpcWebResponse inner)
    {
        public bool Broken { get; private set; }

        public async ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
        {
            try
            {
                await inner.WriteAsync(data, cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                Broken = true;
                throw;
            }
        }

        public async ValueTask FlushAsync(CancellationToken cancellationToken)
        {
            try
            {
                await inner.FlushAsync(cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                Broken = true;
                throw;
            }
        }
    }
}
