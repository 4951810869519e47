using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;

namespace InfraMind.Node.Containers.Engine;

/// <summary>
/// One HTTP/1.1 client connection, read and written through System.IO.Pipelines: to the engine's Unix socket,
/// or to a rest model inside its container's network namespace.
/// It owns the socket, the buffers and the size limits; the protocol parsing lives in
/// <see cref="HttpResponseHead"/>, <see cref="ChunkedDecoder"/> and <see cref="OutputDemuxer"/>.
/// </summary>
internal sealed class HttpConnection : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly NetworkStream _stream;

    /// <summary>Wraps a socket that is already connected (a model's loopback socket made inside its namespace).</summary>
    public static HttpConnection FromConnected(Socket socket) => new(socket);

    private HttpConnection(Socket socket)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: true);
        Reader = PipeReader.Create(_stream, new StreamPipeReaderOptions(bufferSize: 16 * 1024, leaveOpen: true));
        Writer = PipeWriter.Create(_stream, new StreamPipeWriterOptions(leaveOpen: true));
    }

    public PipeReader Reader { get; }

    public PipeWriter Writer { get; }

    /// <summary>Set when the connection was reused from the pool (a stale one may be retried once).</summary>
    public bool Reused { get; set; }

    public static async ValueTask<HttpConnection> ConnectAsync(string socketPath, CancellationToken cancellationToken)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), cancellationToken).ConfigureAwait(false);
            return new HttpConnection(socket);
        }
        catch (SocketException e)
        {
            socket.Dispose();
            string why = e.SocketErrorCode switch
            {
                SocketError.AccessDenied => "permission denied (run as root or add this user to the engine's group)",
                SocketError.AddressNotAvailable or SocketError.ConnectionRefused => "nothing is listening there",
                _ => e.Message,
            };
            throw new EngineException(EngineError.Unreachable, $"cannot connect to the engine at {socketPath}: {why}; fix: start the engine or set runtime.socket", inner: e);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Reads the response head; an engine that closes before answering is reported as unreachable.</summary>
    public async ValueTask<HttpResponseHead> ReadHeadAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            ReadResult result = await Reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            ReadOnlySequence<byte> buffer = result.Buffer;
            if (HttpResponseHead.TryParse(buffer, out HttpResponseHead head, out SequencePosition consumed))
            {
                Reader.AdvanceTo(consumed);
                return head;
            }

            if (result.IsCompleted)
            {
                Reader.AdvanceTo(buffer.End);
                throw new EngineException(
                    buffer.IsEmpty ? EngineError.Unreachable : EngineError.Protocol,
                    buffer.IsEmpty ? "the engine closed the connection without answering" : "the engine closed the connection in the middle of a response head");
            }

            Reader.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    /// <summary>
    /// Reads the body that follows <paramref name="head"/>, handing each decoded piece to <paramref name="onData"/>.
    /// More than <paramref name="maxBytes"/> of body is a protocol error; the rest of the stream is not read.
    /// </summary>
    public async ValueTask ReadBodyAsync(HttpResponseHead head, Action<ReadOnlySequence<byte>> onData, long maxBytes, CancellationToken cancellationToken)
    {
        long total = 0;
        void Deliver(ReadOnlySequence<byte> piece)
        {
            total += piece.Length;
            if (total > maxBytes)
                throw new EngineException(EngineError.Protocol, $"the engine's answer is over the {maxBytes}-byte limit for this request");
            onData(piece);
        }

        switch (head.Framing)
        {
            case BodyFraming.None:
                return;

            case BodyFraming.ContentLength:
                long remaining = head.ContentLength;
                if (remaining > maxBytes)
                    throw new EngineException(EngineError.Protocol, $"the engine's answer ({remaining} bytes) is over the {maxBytes}-byte limit for this request");
                while (remaining > 0)
                {
                    ReadResult result = await Reader.ReadAsync(cancellationToken).ConfigureAwait(false);
                    ReadOnlySequence<byte> buffer = result.Buffer;
                    long take = Math.Min(remaining, buffer.Length);
                    Deliver(buffer.Slice(0, take));
                    remaining -= take;
                    Reader.AdvanceTo(buffer.GetPosition(take));
                    if (remaining > 0 && result.IsCompleted)
                        throw new EngineException(EngineError.Protocol, "the engine closed the connection before the end of its answer");
                }

                return;

            case BodyFraming.Chunked:
                var decoder = new ChunkedDecoder();
                Action<ReadOnlySequence<byte>> deliver = Deliver; // one delegate for the whole body, not one per read
                while (!decoder.IsComplete)
                {
                    ReadResult result = await Reader.ReadAsync(cancellationToken).ConfigureAwait(false);
                    ReadOnlySequence<byte> buffer = result.Buffer;
                    SequencePosition used = decoder.Decode(buffer, deliver);
                    Reader.AdvanceTo(used, buffer.End);
                    if (!decoder.IsComplete && result.IsCompleted)
                        throw new EngineException(EngineError.Protocol, "the engine closed the connection in the middle of a chunked answer");
                }

                return;

            default:
                while (true)
                {
                    ReadResult result = await Reader.ReadAsync(cancellationToken).ConfigureAwait(false);
                    ReadOnlySequence<byte> buffer = result.Buffer;
                    if (!buffer.IsEmpty)
                        Deliver(buffer);
                    Reader.AdvanceTo(buffer.End);
                    if (result.IsCompleted)
                        return;
                }
        }
    }

    /// <summary>Reads the whole body after <paramref name="head"/> into an array, refusing more than <paramref name="maxBytes"/>.</summary>
    public async ValueTask<byte[]> ReadBodyToArrayAsync(HttpResponseHead head, long maxBytes, CancellationToken cancellationToken)
    {
        if (head.Framing == BodyFraming.None)
            return [];
        var buffer = new ArrayBufferWriter<byte>(head.Framing == BodyFraming.ContentLength ? (int)Math.Min(head.ContentLength, maxBytes) : 1024);
        await ReadBodyAsync(head, piece =>
        {
            foreach (ReadOnlyMemory<byte> segment in piece)
                buffer.Write(segment.Span);
        }, maxBytes, cancellationToken).ConfigureAwait(false);
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>Half-closes the connection: the container sees EOF on stdin, its output still flows back.</summary>
    public async ValueTask CompleteSendingAsync()
    {
        await Writer.FlushAsync().ConfigureAwait(false);
        _socket.Shutdown(SocketShutdown.Send);
    }

    public async ValueTask DisposeAsync()
    {
        await Reader.CompleteAsync().ConfigureAwait(false);
        await Writer.CompleteAsync().ConfigureAwait(false);
        await _stream.DisposeAsync().ConfigureAwait(false);
    }
}
