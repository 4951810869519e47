using System.Buffers;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using InfraMind.Node.Control;

namespace InfraMind.Node.Tests.Control;

/// <summary>
/// Test-only: the smallest HTTP/1.1 server that puts <see cref="ControlService"/> on a Unix socket, standing in
/// for the node's listener. One request per connection (it answers `connection: close`), request bodies with
/// content-length or chunked, responses chunked so each flush reaches the client at once.
/// </summary>
internal sealed class UnixGrpcWebServer : IAsyncDisposable
{
    private readonly Socket _listener;
    private readonly ControlService _service;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;

    public UnixGrpcWebServer(string socketPath, ControlService service)
    {
        SocketPath = socketPath;
        _service = service;
        _listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        _listener.Bind(new UnixDomainSocketEndPoint(socketPath));
        _listener.Listen(16);
        _accepting = AcceptAsync();
    }

    public string SocketPath { get; }

    /// <summary>Request lines seen, e.g. "POST /inframind.node.v1.Control/GetStatus".</summary>
    public List<string> Requests { get; } = [];

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            _ = ServeAsync(client);
        }
    }

    private async Task ServeAsync(Socket socket)
    {
        using var stream = new NetworkStream(socket, ownsSocket: true);
        var reader = new Reader(stream);
        try
        {
            string head = await reader.ReadHeadAsync();
            string[] lines = head.Split("\r\n");
            string[] requestLine = lines[0].Split(' ');
            var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            foreach (string line in lines[1..])
            {
                int colon = line.IndexOf(':', StringComparison.Ordinal);
                headers[line[..colon].Trim()] = line[(colon + 1)..].Trim();
            }

            lock (Requests)
                Requests.Add($"{requestLine[0]} {requestLine[1]}");
            byte[] body = headers.TryGetValue("transfer-encoding", out string? te) && te.Contains("chunked", StringComparison.OrdinalIgnoreCase)
                ? await reader.ReadChunkedAsync(ControlService.MaxRequestBodyBytes)
                : await reader.ReadExactAsync(int.Parse(headers.GetValueOrDefault("content-length", "0"), CultureInfo.InvariantCulture));

            int check = ControlService.CheckRequest(requestLine[0], requestLine[1], headers.GetValueOrDefault("content-type"));
            if (check != 200)
            {
                await stream.WriteAsync(Encoding.ASCII.GetBytes($"HTTP/1.1 {check} No\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"));
                return;
            }

            // The client half-closing or vanishing mid-stream cancels the call, as the real listener must.
            using var gone = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
            _ = WatchForCloseAsync(stream, gone);
            var sink = new ChunkedSink(stream);
            await _service.HandleAsync(requestLine[1], new ReadOnlySequence<byte>(body), sink, gone.Token);
            if (!gone.IsCancellationRequested)
                await sink.EndAsync();
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException)
        {
            // The client left; nothing to answer.
        }
    }

    private static async Task WatchForCloseAsync(NetworkStream stream, CancellationTokenSource gone)
    {
        try
        {
            byte[] one = new byte[1];
            while (await stream.ReadAsync(one, gone.Token) > 0)
            {
            }
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException)
        {
        }

        try
        {
            await gone.CancelAsync();
        }
        catch (ObjectDisposedException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Dispose();
        await _accepting;
        _stop.Dispose();
    }

    private sealed class ChunkedSink(NetworkStream stream) : IGrpcWebResponse
    {
        private bool _started;

        public async ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
        {
            if (!_started)
            {
                _started = true;
                await stream.WriteAsync("HTTP/1.1 200 OK\r\ncontent-type: application/grpc-web+proto\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n"u8.ToArray(), cancellationToken);
            }

            if (data.IsEmpty)
                return;
            await stream.WriteAsync(Encoding.ASCII.GetBytes($"{data.Length:x}\r\n"), cancellationToken);
            await stream.WriteAsync(data, cancellationToken);
            await stream.WriteAsync("\r\n"u8.ToArray(), cancellationToken);
        }

        public async ValueTask FlushAsync(CancellationToken cancellationToken) => await stream.FlushAsync(cancellationToken);

        public async Task EndAsync() => await stream.WriteAsync("0\r\n\r\n"u8.ToArray());
    }

    /// <summary>Buffered reads of the request: the head up to CRLFCRLF, then the body.</summary>
    private sealed class Reader(NetworkStream stream)
    {
        private readonly List<byte> _buffered = [];

        public async Task<string> ReadHeadAsync()
        {
            while (true)
            {
                int end = IndexOf("\r\n\r\n"u8);
                if (end >= 0)
                {
                    string head = Encoding.ASCII.GetString(_buffered.GetRange(0, end).ToArray());
                    _buffered.RemoveRange(0, end + 4);
                    return head;
                }

                if (_buffered.Count > 64 * 1024 || !await FillAsync())
                    throw new IOException("the request head never ended");
            }
        }

        public async Task<byte[]> ReadExactAsync(int count)
        {
            while (_buffered.Count < count)
            {
                if (!await FillAsync())
                    throw new IOException("the request body ended early");
            }

            byte[] data = _buffered.GetRange(0, count).ToArray();
            _buffered.RemoveRange(0, count);
            return data;
        }

        public async Task<byte[]> ReadChunkedAsync(int limit)
        {
            var body = new List<byte>();
            while (true)
            {
                string size = await ReadLineAsync();
                int length = int.Parse(size.Split(';')[0], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
                if (body.Count + length > limit)
                    throw new IOException("request body over the limit");
                if (length == 0)
                {
                    while ((await ReadLineAsync()).Length > 0)
                    {
                    }

                    return body.ToArray();
                }

                body.AddRange(await ReadExactAsync(length));
                await ReadLineAsync();
            }
        }

        private async Task<string> ReadLineAsync()
        {
            while (true)
            {
                int end = IndexOf("\r\n"u8);
                if (end >= 0)
                {
                    string line = Encoding.ASCII.GetString(_buffered.GetRange(0, end).ToArray());
                    _buffered.RemoveRange(0, end + 2);
                    return line;
                }

                if (!await FillAsync())
                    throw new IOException("the request ended inside a line");
            }
        }

        private async Task<bool> FillAsync()
        {
            byte[] chunk = new byte[4096];
            int n = await stream.ReadAsync(chunk);
            _buffered.AddRange(chunk.AsSpan(0, n));
            return n > 0;
        }

        private int IndexOf(ReadOnlySpan<byte> pattern) => System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_buffered).IndexOf(pattern);
    }
}
