using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace InfraMind.Node.Listener.Http;

/// <summary>
/// HTTP/1.1 server on raw sockets: any number of TCP and Unix-socket endpoints, one <see cref="IHttpHandler"/>.
/// No Kestrel, no ASP.NET. Start with <see cref="Start"/>, stop with <see cref="StopAsync"/> (graceful drain).
/// </summary>
public sealed class HttpServer : IAsyncDisposable
{
    private readonly ConcurrentDictionary<Http1Connection, byte> _connections = new();
    private readonly List<Socket> _listeners = [];
    private readonly List<Task> _acceptLoops = [];
    private readonly List<EndPoint> _endPoints = [];
    private readonly List<string> _socketFiles = [];
    private readonly Action<Exception>? _onHandlerFailure;
    private readonly byte[] _busyResponse;
    private Timer? _heartbeat;
    private int _connectionCount;
    private volatile bool _draining;
    private int _stopped;

    public HttpServer(IHttpHandler handler, HttpServerOptions? options = null, Action<Exception>? onHandlerFailure = null)
    {
        ArgumentNullException.ThrowIfNull(handler);
        Handler = handler;
        Options = options ?? new HttpServerOptions();
        _onHandlerFailure = onHandlerFailure;
        var busy = new System.Buffers.ArrayBufferWriter<byte>(256);
        Http1Writer.WriteErrorResponse(busy, 503, "too_many_connections", "the node has too many open connections; retry shortly", close: true);
        _busyResponse = busy.WrittenSpan.ToArray();
    }

    public HttpServerOptions Options { get; }

    internal IHttpHandler Handler { get; }

    /// <summary>The bound endpoints, with the real port where port 0 was asked for.</summary>
    public IReadOnlyList<EndPoint> EndPoints => _endPoints;

    public int ConnectionCount => Volatile.Read(ref _connectionCount);

    public bool IsDraining => _draining;

    /// <summary>
    /// Binds and starts accepting on every endpoint. A Unix socket file left by a dead server is removed; one that a
    /// live server answers on is refused. Throws <see cref="Errors.InfraException"/> naming the endpoint on failure.
    /// </summary>
    public void Start(IEnumerable<EndPoint> endPoints)
    {
        ArgumentNullException.ThrowIfNull(endPoints);
        foreach (EndPoint endPoint in endPoints)
        {
            Socket listener = endPoint is UnixDomainSocketEndPoint unix ? BindUnix(unix) : BindTcp(endPoint);
            _listeners.Add(listener);
            _endPoints.Add(listener.LocalEndPoint!);
        }

        _heartbeat ??= new Timer(static state => ((HttpServer)state!).Heartbeat(), this, Options.HeartbeatInterval, Options.HeartbeatInterval);
        foreach (Socket listener in _listeners)
            _acceptLoops.Add(AcceptLoopAsync(listener));
    }

    private Socket BindTcp(EndPoint endPoint)
    {
        var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            if (endPoint.AddressFamily == AddressFamily.InterNetworkV6)
                socket.DualMode = true;
            socket.Bind(endPoint);
            socket.Listen(Options.ListenBacklog);
            return socket;
        }
        catch (SocketException e)
        {
            socket.Dispose();
            ThrowHelper.ThrowRuntime($"cannot listen on {endPoint}: {e.Message}; free the port or set listener.port to another one", e);
            return null;
        }
    }

    private Socket BindUnix(UnixDomainSocketEndPoint endPoint)
    {
        string path = endPoint.ToString();
        // Path.Exists, not File.Exists: the latter is false for a socket file.
        if (Path.Exists(path))
        {
            using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            bool live;
            try
            {
                probe.Connect(endPoint);
                live = true;
            }
            catch (SocketException)
            {
                live = false;
            }

            if (live)
                ThrowHelper.ThrowRuntime($"{path} is served by a running process; stop it first or set control.socket to another path");
            File.Delete(path); // stale: its server died without removing it
        }

        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            socket.Bind(endPoint);
            File.SetUnixFileMode(path, Options.UnixSocketMode);
            socket.Listen(Options.ListenBacklog);
            _socketFiles.Add(path);
            return socket;
        }
        catch (Exception e) when (e is SocketException or IOException or UnauthorizedAccessException)
        {
            socket.Dispose();
            ThrowHelper.ThrowRuntime($"cannot listen on {path}: {e.Message}; check that its folder exists and is writable", e);
            return null;
        }
    }

    private async Task AcceptLoopAsync(Socket listener)
    {
        bool unix = listener.AddressFamily == AddressFamily.Unix;
        while (!_draining)
        {
            Socket socket;
            try
            {
                socket = await listener.AcceptAsync().ConfigureAwait(false);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                if (_draining)
                    return;
                continue; // a connection reset before accept completed; keep listening
            }

            if (_draining)
            {
                socket.Dispose();
                return;
            }

            if (!unix)
                socket.NoDelay = true;

            if (Interlocked.Increment(ref _connectionCount) > Options.MaxConnections)
            {
                Interlocked.Decrement(ref _connectionCount);
                _ = RejectBusyAsync(socket);
                continue;
            }

            var connection = new Http1Connection(this, socket, unix);
            _connections[connection] = 0;
            // Off the accept loop: the connection's first read must not delay the next accept.
            ThreadPool.UnsafeQueueUserWorkItem(static c => _ = c.RunAsync(), connection, preferLocal: false);
        }
    }

    private async Task RejectBusyAsync(Socket socket)
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(1));
            await socket.SendAsync(_busyResponse, SocketFlags.None, timeout.Token).ConfigureAwait(false);
            socket.Shutdown(SocketShutdown.Send);
            // Read what the client sent so the close is a FIN, not a reset that could discard the 503.
            byte[] sink = new byte[1024];
            while (await socket.ReceiveAsync(sink, SocketFlags.None, timeout.Token).ConfigureAwait(false) > 0)
            {
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException)
        {
            // Best effort.
        }
        finally
        {
            socket.Dispose();
        }
    }

    internal void Remove(Http1Connection connection)
    {
        if (_connections.TryRemove(connection, out _))
            Interlocked.Decrement(ref _connectionCount);
    }

    internal void ReportHandlerFailure(Exception e) => _onHandlerFailure?.Invoke(e);

    private void Heartbeat()
    {
        long now = Environment.TickCount64;
        foreach (KeyValuePair<Http1Connection, byte> entry in _connections)
            entry.Key.OnHeartbeat(now);
    }

    /// <summary>
    /// Stops accepting, closes idle keep-alive connections, lets in-flight requests finish (their responses carry
    /// Connection: close) and force-closes whatever is left after <paramref name="drainTimeout"/>.
    /// </summary>
    public async Task StopAsync(TimeSpan drainTimeout)
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0)
            return;
        _draining = true;
        foreach (Socket listener in _listeners)
            listener.Dispose();
        foreach (string path in _socketFiles)
            File.Delete(path); // deletes sockets too
        await Task.WhenAll(_acceptLoops).ConfigureAwait(false);

        foreach (Http1Connection connection in _connections.Keys)
            connection.RequestDrain();

        long deadline = Environment.TickCount64 + (long)drainTimeout.TotalMilliseconds;
        while (!_connections.IsEmpty && Environment.TickCount64 < deadline)
            await Task.Delay(10).ConfigureAwait(false);

        foreach (Http1Connection connection in _connections.Keys)
            connection.Abort();

        // Aborted connections finish their close promptly; wait briefly so callers see a quiet server.
        long abortDeadline = Environment.TickCount64 + 2000;
        while (!_connections.IsEmpty && Environment.TickCount64 < abortDeadline)
            await Task.Delay(10).ConfigureAwait(false);

        if (_heartbeat is not null)
            await _heartbeat.DisposeAsync().ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync() => await StopAsync(TimeSpan.Zero).ConfigureAwait(false);
}
