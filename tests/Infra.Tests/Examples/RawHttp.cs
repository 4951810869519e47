using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace InfraMind.Node.Tests.Examples;

/// <summary>
/// `embedder serve` on a free host port, for the HTTP tests (the binary in the image is the same file).
/// The process is the test's own, killed by id at the end.
/// </summary>
public sealed class EmbedderServer : IDisposable
{
    private readonly Process _process;

    public EmbedderServer()
    {
        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            Port = ((IPEndPoint)probe.LocalEndpoint).Port;
        }

        var start = new ProcessStartInfo(EmbedderArtifacts.Binary, ["serve", Port.ToString(CultureInfo.InvariantCulture)])
        {
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        _process = Process.Start(start)!;
        string? line = _process.StandardError.ReadLine();
        if (line != $"embedder: serving on 127.0.0.1:{Port}")
            throw new InvalidOperationException($"embedder serve {Port} did not start: {line}");
        _ = _process.StandardError.ReadToEndAsync(); // keep draining
    }

    public int Port { get; }

    public bool Running => !_process.HasExited;

    public void Dispose()
    {
        if (!_process.HasExited)
            _process.Kill();
        _process.WaitForExit(5000);
        _process.Dispose();
    }
}

/// <summary>A hand-rolled HTTP/1.1 client over one socket: writes exactly the bytes a test gives it.</summary>
public sealed class RawHttp : IDisposable
{
    private readonly Socket _socket;
    private readonly List<byte> _pending = [];

    private RawHttp(Socket socket) => _socket = socket;

    public sealed record Response(int Status, IReadOnlyDictionary<string, string> Headers, byte[] Body)
    {
        public string Text => Encoding.UTF8.GetString(Body);
    }

    public static async Task<RawHttp> ConnectAsync(int port)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(IPAddress.Loopback, port);
        return new RawHttp(socket);
    }

    public static byte[] Post(string path, string body, string extraHeaders = "") =>
        Post(path, Encoding.UTF8.GetBytes(body), extraHeaders);

    public static byte[] Post(string path, byte[] body, string extraHeaders = "") =>
        [.. Encoding.ASCII.GetBytes($"POST {path} HTTP/1.1\r\nHost: model\r\nContent-Type: application/json\r\nContent-Length: {body.Length}\r\n{extraHeaders}\r\n"), .. body];

    public async Task SendAsync(ReadOnlyMemory<byte> bytes)
    {
        while (bytes.Length > 0)
        {
            int sent = await _socket.SendAsync(bytes, SocketFlags.None);
            bytes = bytes[sent..];
        }
    }

    /// <summary>One response (framed by Content-Length), or null when the server closed first.</summary>
    /// <param name="headOnly">The answer to a HEAD request: its Content-Length announces a body that is not sent.</param>
    public async Task<Response?> ReadAsync(TimeSpan? timeout = null, bool headOnly = false)
    {
        using var cancel = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(10));
        int headEnd;
        while ((headEnd = IndexOfHeadEnd()) < 0)
        {
            if (!await FillAsync(cancel.Token))
                return null;
        }

        string head = Encoding.ASCII.GetString(_pending.GetRange(0, headEnd).ToArray());
        string[] lines = head.Split("\r\n");
        int status = int.Parse(lines[0].Split(' ')[1], CultureInfo.InvariantCulture);
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (string line in lines.Skip(1).Where(l => l.Length > 0))
            headers[line[..line.IndexOf(':', StringComparison.Ordinal)]] = line[(line.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim();
        _pending.RemoveRange(0, headEnd + 4);
        if (status == 100 || headOnly)
            return new Response(status, headers, []);

        int length = int.Parse(headers["Content-Length"], CultureInfo.InvariantCulture);
        while (_pending.Count < length)
        {
            if (!await FillAsync(cancel.Token))
                throw new IOException($"the connection closed {length - _pending.Count} bytes before the end of a {status} body");
        }

        byte[] body = _pending.GetRange(0, length).ToArray();
        _pending.RemoveRange(0, length);
        return new Response(status, headers, body);
    }

    /// <summary>True when the server closes the connection (and sends nothing more) within the timeout.</summary>
    public async Task<bool> ClosedByServerAsync(TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            var buffer = new byte[4096];
            while (true)
            {
                int read = await _socket.ReceiveAsync(buffer, SocketFlags.None, cancel.Token);
                if (read == 0)
                    return true;
            }
        }
        catch (OperationCanceledException)
        {
            return false;
        }
        catch (SocketException)
        {
            return true; // reset
        }
    }

    /// <summary>Half-closes: the server reads end of stream, and can still answer.</summary>
    public void ShutdownSend() => _socket.Shutdown(SocketShutdown.Send);

    public void Dispose() => _socket.Dispose();

    private int IndexOfHeadEnd()
    {
        for (int i = 3; i < _pending.Count; i++)
        {
            if (_pending[i] == '\n' && _pending[i - 1] == '\r' && _pending[i - 2] == '\n' && _pending[i - 3] == '\r')
                return i - 3;
        }

        return -1;
    }

    private async Task<bool> FillAsync(CancellationToken cancellationToken)
    {
        var buffer = new byte[65536];
        int read;
        try
        {
            read = await _socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken);
        }
        catch (SocketException)
        {
            return false;
        }

        _pending.AddRange(buffer.AsSpan(0, read));
        return read > 0;
    }
}
