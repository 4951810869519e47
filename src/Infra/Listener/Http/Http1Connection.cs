using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;

namespace InfraMind.Node.Listener.Http;

/// <summary>
/// Connection state for one HTTP/1.1 client: the read loop, body framing, keep-alive, timeouts and the response
/// framing. The grammar lives in <see cref="HttpRequestParser"/> and <see cref="ChunkedBodyDecoder"/>; this type owns
/// buffers, time and limits (Kestrel's Http1Connection/HttpParser split).
/// </summary>
internal sealed class Http1Connection : IDisposable
{
    private const int StreamFlushThreshold = 16 * 1024;

    private readonly HttpServer _server;
    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly PipeReader _input;
    private readonly PipeWriter _output;
    private readonly RequestHead _head;
    private readonly HttpExchange _exchange;
    private readonly ArrayBufferWriter<byte> _chunkedBody = new(256);
    private CancellationTokenSource _aborted = new();

    private volatile Phase _phase;
    private long _phaseStartedMs;
    private long _bodyBytes;
    private volatile bool _bodyTooSlow;
    private volatile bool _closeRequested;
    private bool _bodyConsumed;
    private bool _continueSent;

    public Http1Connection(HttpServer server, Socket socket, bool isUnixSocket)
    {
        _server = server;
        _socket = socket;
        IsUnixSocket = isUnixSocket;
        RemoteEndPoint = socket.RemoteEndPoint;
        _stream = new NetworkStream(socket, ownsSocket: false);
        _input = PipeReader.Create(_stream, new StreamPipeReaderOptions(bufferSize: 8192, minimumReadSize: 2048, leaveOpen: true));
        _output = PipeWriter.Create(_stream, new StreamPipeWriterOptions(minimumBufferSize: 4096, leaveOpen: true));
        _head = new RequestHead(server.Options.HeadLimits);
        _exchange = new HttpExchange(this, _head);
        // Set before the server registers us: the heartbeat may look at this connection before RunAsync starts.
        _phaseStartedMs = Environment.TickCount64;
    }

    private enum Phase
    {
        Idle,
        Head,
        Handler,
        Body,
        Streaming,
        Closed,
    }

    public EndPoint? RemoteEndPoint { get; }

    public bool IsUnixSocket { get; }

    public HttpServerOptions Options => _server.Options;

    public async Task RunAsync()
    {
        HttpParseError failure = HttpParseError.None;
        try
        {
            while (true)
            {
                SetPhase(Phase.Idle);
                HttpParseError error = await ReadHeadAsync().ConfigureAwait(false);
                if (error != HttpParseError.None)
                {
                    failure = error;
                    await WriteErrorAsync(error).ConfigureAwait(false);
                    return;
                }

                if (_phase == Phase.Closed)
                    return;

                SetPhase(Phase.Handler);
                if (!await ServeAsync().ConfigureAwait(false))
                    return;
            }
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
        {
            // The client went away or the server force-closed us; nothing to answer.
        }
        finally
        {
            _phase = Phase.Closed;
            // Linger (read and drop for a moment) when input may still be arriving: a refused head, or a body the
            // handler left unread (a 413 before the upload ended). Closing at once would reset the connection and the
            // client would lose the answer.
            await CloseAsync(lingering: failure != HttpParseError.None || !_bodyConsumed).ConfigureAwait(false);
            _server.Remove(this);
        }
    }

    /// <summary>Reads until a whole head is parsed. Sets Closed on a clean end; returns the reason on bad input.</summary>
    /// <remarks>
    /// Pooled builder: on a keep-alive connection this nearly always waits for the socket, and the default builder
    /// would allocate a fresh state-machine box for every request.
    /// </remarks>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<HttpParseError> ReadHeadAsync()
    {
        while (true)
        {
            ReadResult result = await _input.ReadAsync().ConfigureAwait(false);
            ReadOnlySequence<byte> buffer = result.Buffer;
            if (result.IsCanceled)
            {
                // Cancelled by the heartbeat: a head that started and stalled gets 408; an idle connection just closes.
                _input.AdvanceTo(buffer.Start);
                if (_phase == Phase.Head && !_closeRequested)
                    return HttpParseError.HeaderTimeout;
                _phase = Phase.Closed;
                return HttpParseError.None;
            }

            if (buffer.IsEmpty && result.IsCompleted)
            {
                _input.AdvanceTo(buffer.End);
                _phase = Phase.Closed;
                return HttpParseError.None;
            }

            ParseStatus status = HttpRequestParser.Parse(buffer, _head, out long consumed, out HttpParseError error);
            switch (status)
            {
                case ParseStatus.Complete:
                    _input.AdvanceTo(buffer.GetPosition(consumed));
                    return HttpParseError.None;
                case ParseStatus.Error:
                    _input.AdvanceTo(buffer.End);
                    return error;
            }

            _input.AdvanceTo(buffer.Start, buffer.End);
            if (result.IsCompleted)
            {
                _phase = Phase.Closed; // the client closed half-way through a head
                return HttpParseError.None;
            }

            if (_phase == Phase.Idle)
                SetPhase(Phase.Head); // the header timeout runs from the first byte of the request
        }
    }

    /// <summary>Runs the handler and sends its response; true when the connection may serve another request.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<bool> ServeAsync()
    {
        _exchange.Reset();
        _bodyConsumed = !_head.HasBody;
        _continueSent = false;
        if (!_aborted.TryReset())
        {
            _aborted.Dispose();
            _aborted = new CancellationTokenSource();
        }

        HttpParseError rejected = HttpParseError.None;
        try
        {
            await _server.Handler.HandleAsync(_exchange, _aborted.Token).ConfigureAwait(false);
        }
        catch (HttpRequestRejectedException e)
        {
            rejected = e.Reason;
        }
        catch (Exception e) when (e is not OperationCanceledException || !_aborted.IsCancellationRequested)
        {
            if (_exchange.ResponseStarted)
                return false; // a streamed response cannot be turned into an error; cutting it short is the signal
            _server.ReportHandlerFailure(e);
            _exchange.ReplaceWithError(500, "internal_error", "the request failed inside the node; see the node's log and retry");
        }

        if (rejected != HttpParseError.None)
        {
            if (_exchange.ResponseStarted)
                return false;
            _exchange.ReplaceWithError(HttpParseErrors.StatusOf(rejected), HttpParseErrors.CodeOf(rejected), HttpParseErrors.MessageOf(rejected));
            _bodyConsumed = false; // the body's framing is broken or unread: never reuse the connection
        }

        // An unread body would be parsed as the next request: close instead of guessing where it ends.
        bool keepAlive = _head.KeepAlive && _bodyConsumed && !_server.IsDraining && !_closeRequested;
        if (_exchange.IsStreaming)
        {
            if (_head.IsHttp11)
                Http1Writer.Write(_output, "0\r\n\r\n"u8);
            await _output.FlushAsync().ConfigureAwait(false);
            return keepAlive && _head.IsHttp11;
        }

        WriteBufferedResponse(keepAlive);
        FlushResult flushed = await _output.FlushAsync().ConfigureAwait(false);
        return keepAlive && !flushed.IsCompleted;
    }

    private void WriteBufferedResponse(bool keepAlive)
    {
        PipeWriter w = _output;
        int status = _exchange.StatusCode;
        Http1Writer.WriteStatusLine(w, status);
        Http1Writer.WriteDate(w);
        WriteCommonHeaders(w, keepAlive);
        ReadOnlySpan<byte> body = _exchange.BufferedBody;
        if (status is not (204 or 304))
        {
            Http1Writer.Write(w, "Content-Length: "u8);
            Http1Writer.WriteNumber(w, body.Length);
            Http1Writer.Write(w, "\r\n\r\n"u8);
        }
        else
        {
            Http1Writer.Write(w, "\r\n"u8);
        }

        if (_head.Method != RequestMethod.Head && status is not (204 or 304))
            Http1Writer.Write(w, body);
    }

    private void WriteCommonHeaders(PipeWriter w, bool keepAlive)
    {
        string? contentType = _exchange.ResponseContentType;
        if (contentType is not null)
        {
            Http1Writer.Write(w, "Content-Type: "u8);
            Http1Writer.WriteAscii(w, contentType);
            Http1Writer.Write(w, "\r\n"u8);
        }

        foreach (KeyValuePair<string, string> header in _exchange.ResponseHeaders)
        {
            Http1Writer.WriteAscii(w, header.Key);
            Http1Writer.Write(w, ": "u8);
            Http1Writer.WriteAscii(w, header.Value);
            Http1Writer.Write(w, "\r\n"u8);
        }

        if (!keepAlive)
            Http1Writer.Write(w, "Connection: close\r\n"u8);
        else if (!_head.IsHttp11)
            Http1Writer.Write(w, "Connection: keep-alive\r\n"u8);
    }

    internal void WriteStreamingHead(HttpExchange exchange)
    {
        Http1Writer.WriteStatusLine(_output, exchange.StatusCode);
        Http1Writer.WriteDate(_output);
        // Whether the connection survives is only known at the end; HTTP/1.0 has no chunked encoding, so it closes.
        WriteCommonHeaders(_output, keepAlive: _head.IsHttp11 && _head.KeepAlive);
        if (_head.IsHttp11)
            Http1Writer.Write(_output, "Transfer-Encoding: chunked\r\n"u8);
        Http1Writer.Write(_output, "\r\n"u8);
        SetPhase(Phase.Streaming);
    }

    internal async ValueTask WriteChunkAsync(ReadOnlyMemory<byte> data, CancellationToken ct)
    {
        if (data.IsEmpty)
            return; // an empty chunk would end the stream
        if (_head.IsHttp11)
        {
            Http1Writer.WriteHexNumber(_output, data.Length);
            Http1Writer.Write(_output, "\r\n"u8);
            Http1Writer.Write(_output, data.Span);
            Http1Writer.Write(_output, "\r\n"u8);
        }
        else
        {
            Http1Writer.Write(_output, data.Span);
        }

        if (_output.UnflushedBytes >= StreamFlushThreshold)
            await FlushStreamAsync(ct).ConfigureAwait(false);
    }

    internal async ValueTask FlushStreamAsync(CancellationToken ct)
    {
        try
        {
            FlushResult result = await _output.FlushAsync(ct).ConfigureAwait(false);
            if (result.IsCompleted)
                ThrowClientGone();
        }
        catch (IOException)
        {
            ThrowClientGone();
        }
    }

    private void ThrowClientGone()
    {
        _aborted.Cancel();
        throw new OperationCanceledException("the client closed the connection during a streamed response", _aborted.Token);
    }

    internal async ValueTask<byte[]> ReadBodyAsync(long limit, CancellationToken ct)
    {
        if (_bodyConsumed)
            return [];
        if (_head.ContentLength > limit)
            throw new HttpRequestRejectedException(HttpParseError.BodyTooLarge);

        if (_head.ExpectContinue && !_continueSent)
        {
            _continueSent = true;
            Http1Writer.Write(_output, "HTTP/1.1 100 Continue\r\n\r\n"u8);
            await _output.FlushAsync(ct).ConfigureAwait(false);
        }

        _bodyBytes = 0;
        _bodyTooSlow = false;
        SetPhase(Phase.Body);
        try
        {
            byte[] body = _head.IsChunked
                ? await ReadChunkedAsync(limit, ct).ConfigureAwait(false)
                : await ReadLengthAsync(ct).ConfigureAwait(false);
            _bodyConsumed = true;
            return body;
        }
        finally
        {
            SetPhase(Phase.Handler);
        }
    }

    private async ValueTask<byte[]> ReadLengthAsync(CancellationToken ct)
    {
        byte[] body = new byte[_head.ContentLength];
        int filled = 0;
        while (filled < body.Length)
        {
            ReadResult result = await ReadBodyBytesAsync(ct).ConfigureAwait(false);
            ReadOnlySequence<byte> buffer = result.Buffer;
            int take = (int)Math.Min(body.Length - filled, buffer.Length);
            buffer.Slice(0, take).CopyTo(body.AsSpan(filled));
            filled += take;
            _bodyBytes += take;
            _input.AdvanceTo(buffer.GetPosition(take));
            if (filled < body.Length && result.IsCompleted)
                throw new HttpRequestRejectedException(HttpParseError.IncompleteBody);
        }

        return body;
    }

    private async ValueTask<byte[]> ReadChunkedAsync(long limit, CancellationToken ct)
    {
        var decoder = new ChunkedBodyDecoder(limit);
        _chunkedBody.ResetWrittenCount();
        while (true)
        {
            ReadResult result = await ReadBodyBytesAsync(ct).ConfigureAwait(false);
            ReadOnlySequence<byte> buffer = result.Buffer;
            long position = 0;
            while (true)
            {
                ChunkStatus status = decoder.Decode(buffer.Slice(position), out long consumed, out ReadOnlySequence<byte> data, out HttpParseError error);
                position += consumed;
                _bodyBytes += consumed;
                if (status == ChunkStatus.Data)
                {
                    foreach (ReadOnlyMemory<byte> segment in data)
                        _chunkedBody.Write(segment.Span);
                    continue;
                }

                if (status == ChunkStatus.Done)
                {
                    _input.AdvanceTo(buffer.GetPosition(position));
                    byte[] body = _chunkedBody.WrittenSpan.ToArray();
                    ResetChunkBuffer();
                    return body;
                }

                if (status == ChunkStatus.Error)
                {
                    _input.AdvanceTo(buffer.End);
                    ResetChunkBuffer();
                    throw new HttpRequestRejectedException(error);
                }

                break; // NeedMore
            }

            _input.AdvanceTo(buffer.GetPosition(position), buffer.End);
            if (result.IsCompleted)
                throw new HttpRequestRejectedException(HttpParseError.IncompleteBody);
        }
    }

    private void ResetChunkBuffer()
    {
        if (_chunkedBody.Capacity > 64 * 1024)
            _chunkedBody.Clear();
        _chunkedBody.ResetWrittenCount();
    }

    private async ValueTask<ReadResult> ReadBodyBytesAsync(CancellationToken ct)
    {
        ReadResult result = await _input.ReadAsync(ct).ConfigureAwait(false);
        if (result.IsCanceled)
        {
            _input.AdvanceTo(result.Buffer.Start);
            if (_bodyTooSlow)
                throw new HttpRequestRejectedException(HttpParseError.BodyTooSlow);
            throw new OperationCanceledException("the connection is closing");
        }

        return result;
    }

    private async ValueTask WriteErrorAsync(HttpParseError error)
    {
        Http1Writer.WriteErrorResponse(_output, HttpParseErrors.StatusOf(error), HttpParseErrors.CodeOf(error), HttpParseErrors.MessageOf(error), close: true);
        await _output.FlushAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// Closes our side. After an error the client may still be sending; reading (and dropping) what comes for a
    /// moment before closing keeps the kernel from answering with a reset that would destroy our error response.
    /// </summary>
    private async ValueTask CloseAsync(bool lingering)
    {
        try
        {
            await _output.CompleteAsync().ConfigureAwait(false);
            await _input.CompleteAsync().ConfigureAwait(false);
            if (lingering && _socket.Connected)
            {
                _socket.Shutdown(SocketShutdown.Send);
                using var linger = new CancellationTokenSource(TimeSpan.FromMilliseconds(500));
                byte[] sink = ArrayPool<byte>.Shared.Rent(4096);
                try
                {
                    for (int total = 0; total < 4 * 1024 * 1024;) // bounded by time as well (500 ms)
                    {
                        int n = await _socket.ReceiveAsync(sink, SocketFlags.None, linger.Token).ConfigureAwait(false);
                        if (n == 0)
                            break;
                        total += n;
                    }
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(sink);
                }
            }
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
        {
            // Closing anyway.
        }
        finally
        {
            Dispose();
        }
    }

    public void Dispose()
    {
        _stream.Dispose();
        _socket.Dispose();
        _aborted.Dispose();
    }

    private void SetPhase(Phase phase)
    {
        Volatile.Write(ref _phaseStartedMs, Environment.TickCount64);
        _phase = phase;
    }

    /// <summary>Called by the server's heartbeat: enforces the header, keep-alive and body-rate timeouts.</summary>
    internal void OnHeartbeat(long nowMs)
    {
        long elapsed = nowMs - Volatile.Read(ref _phaseStartedMs);
        HttpServerOptions options = _server.Options;
        switch (_phase)
        {
            case Phase.Idle when elapsed > options.KeepAliveTimeout.TotalMilliseconds || _server.IsDraining:
                _closeRequested = true;
                _input.CancelPendingRead();
                break;
            case Phase.Head when elapsed > options.HeaderTimeout.TotalMilliseconds:
                _input.CancelPendingRead();
                break;
            case Phase.Body when elapsed > options.MinBodyRateGrace.TotalMilliseconds
                && Volatile.Read(ref _bodyBytes) * 1000 < options.MinBodyBytesPerSecond * elapsed:
                _bodyTooSlow = true;
                _input.CancelPendingRead();
                break;
            case Phase.Streaming when PeerClosed():
                CancelAborted();
                break;
        }
    }

    /// <summary>Readable with nothing to read means the peer sent FIN (or RST): the streamed response has no reader.</summary>
    private bool PeerClosed()
    {
        try
        {
            return _socket.Poll(0, SelectMode.SelectRead) && _socket.Available == 0;
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            return true;
        }
    }

    private void CancelAborted()
    {
        try
        {
            _aborted.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // The connection finished meanwhile.
        }
    }

    /// <summary>Drain: an idle connection closes now; a busy one closes after its current response.</summary>
    internal void RequestDrain()
    {
        _closeRequested = true;
        if (_phase is Phase.Idle or Phase.Head)
            _input.CancelPendingRead();
    }

    /// <summary>Force-close at the end of a drain: cancels the handler and tears the socket down.</summary>
    internal void Abort()
    {
        _closeRequested = true;
        CancelAborted();
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // Already gone.
        }

        _input.CancelPendingRead();
    }
}
