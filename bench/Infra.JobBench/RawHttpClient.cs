using System.Buffers.Text;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace InfraMind.Node.JobBench;

/// <summary>One HTTP/1.1 response as the bench needs it, with the two timings it reports.</summary>
internal sealed record RawResponse(int Status, byte[] Body, double AfterLastByteUs, double TotalUs, bool Closed)
{
    public string Text => Encoding.UTF8.GetString(Body);
}

/// <summary>
/// A minimal keep-alive HTTP/1.1 client over one socket, so the timing is the server's and the kernel's, not a
/// client library's: a request is sent whole, the clock for "after last byte" starts when the send of its last
/// byte completes, and stops when the whole response (head and Content-Length body) is in. Responses without a
/// Content-Length (chunked, close-delimited) are refused: neither the node's buffered routes nor the embedder send them.
/// </summary>
internal sealed class RawHttpClient : IDisposable
{
    private readonly Func<CancellationToken, Task<Socket>> _connect;
    private readonly string _host;
    private readonly byte[] _buffer = new byte[1 << 20];
    private Socket? _socket;
    private int _start;
    private int _end;

    private RawHttpClient(Func<CancellationToken, Task<Socket>> connect, string host)
    {
        _connect = connect;
        _host = host;
    }

    /// <summary>How many times the client had to open a connection (1 when keep-alive held all along).</summary>
    public int Connects { get; private set; }

    public static RawHttpClient Tcp(IPEndPoint endPoint) => new(async ct =>
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(endPoint, ct).ConfigureAwait(false);
        return socket;
    }, endPoint.ToString());

    /// <summary>A client whose connections come from <paramref name="connect"/> (e.g. a socket made inside a container's netns).</summary>
    public static RawHttpClient Custom(Func<CancellationToken, Task<Socket>> connect, string host) => new(connect, host);

    public static byte[] Get(string host, string path) => Encoding.ASCII.GetBytes($"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n");

    public static byte[] PostJson(string host, string path, ReadOnlySpan<byte> body)
    {
        byte[] head = Encoding.ASCII.GetBytes($"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {body.Length}\r\n\r\n");
        byte[] request = new byte[head.Length + body.Length];
        head.CopyTo(request, 0);
        body.CopyTo(request.AsSpan(head.Length));
        return request;
    }

    public string Host => _host;

    /// <summary>Sends <paramref name="request"/> (one whole request) and reads its response.</summary>
    public async Task<RawResponse> SendAsync(byte[] request, CancellationToken cancellationToken)
    {
        if (_socket is null)
        {
            _socket = await _connect(cancellationToken).ConfigureAwait(false);
            _socket.NoDelay = true;
            Connects++;
            _start = _end = 0;
        }

        long begin = Stopwatch.GetTimestamp();
        int sent = 0;
        while (sent < request.Length)
            sent += await _socket.SendAsync(request.AsMemory(sent), SocketFlags.None, cancellationToken).ConfigureAwait(false);
        long lastByte = Stopwatch.GetTimestamp();

        (int status, int headLength, int contentLength, bool close) = await ReadHeadAsync(cancellationToken).ConfigureAwait(false);
        _start += headLength;
        while (_end - _start < contentLength)
            await FillAsync(cancellationToken).ConfigureAwait(false);
        long done = Stopwatch.GetTimestamp();
        byte[] body = _buffer.AsSpan(_start, contentLength).ToArray();
        _start += contentLength;
        if (close)
            Disconnect();
        return new RawResponse(status, body, Stopwatch.GetElapsedTime(lastByte, done).TotalMicroseconds, Stopwatch.GetElapsedTime(begin, done).TotalMicroseconds, close);
    }

    private async Task<(int Status, int HeadLength, int ContentLength, bool Close)> ReadHeadAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            int end = _buffer.AsSpan(_start, _end - _start).IndexOf("\r\n\r\n"u8);
            if (end >= 0)
                return ParseHead(_buffer.AsSpan(_start, end + 4));
            await FillAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private static (int Status, int HeadLength, int ContentLength, bool Close) ParseHead(ReadOnlySpan<byte> head)
    {
        // "HTTP/1.1 202 Accepted\r\n"
        if (head.Length < 12 || !head.StartsWith("HTTP/1."u8) || !Utf8Parser.TryParse(head.Slice(9, 3), out int status, out int used) || used != 3)
            throw new InvalidOperationException($"not an HTTP/1.x response: '{Encoding.ASCII.GetString(head[..Math.Min(head.Length, 60)])}'");
        int contentLength = -1;
        bool close = false;
        foreach (string line in Encoding.ASCII.GetString(head).Split("\r\n").Skip(1))
        {
            int colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0)
                continue;
            string name = line[..colon].Trim();
            string value = line[(colon + 1)..].Trim();
            if (name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase))
                contentLength = int.Parse(value, System.Globalization.CultureInfo.InvariantCulture);
            else if (name.Equals("Connection", StringComparison.OrdinalIgnoreCase) && value.Contains("close", StringComparison.OrdinalIgnoreCase))
                close = true;
            else if (name.Equals("Transfer-Encoding", StringComparison.OrdinalIgnoreCase))
                throw new InvalidOperationException($"the server answered with Transfer-Encoding: {value}; this client reads Content-Length bodies only");
        }

        if (contentLength < 0)
            throw new InvalidOperationException($"the server answered {status} without a Content-Length; this client needs one");
        return (status, head.Length, contentLength, close);
    }

    private async Task FillAsync(CancellationToken cancellationToken)
    {
        if (_start > 0 && _start == _end)
            _start = _end = 0;
        if (_end == _buffer.Length)
        {
            if (_start == 0)
                throw new InvalidOperationException($"a response is larger than this client's {_buffer.Length} byte buffer");
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
            _end -= _start;
            _start = 0;
        }

        int n = await _socket!.ReceiveAsync(_buffer.AsMemory(_end), SocketFlags.None, cancellationToken).ConfigureAwait(false);
        if (n == 0)
        {
            Disconnect();
            throw new IOException("the server closed the connection in the middle of a response");
        }

        _end += n;
    }

    private void Disconnect()
    {
        _socket?.Dispose();
        _socket = null;
    }

    public void Dispose() => Disconnect();
}
