using System.Net;
using System.Net.Sockets;
using System.Text;

namespace InfraMind.Node.BundleBench;

/// <summary>
/// A minimal HTTP/1.1 server on 127.0.0.1 that serves one file at one path with sendfile(2), so the server side
/// costs as little CPU as possible and the measurement is the client's work. Every response closes its connection.
/// GET /{name} answers 200 with Content-Length; anything else 404.
/// </summary>
internal sealed class LocalHttpServer : IAsyncDisposable
{
    private readonly Socket _listener;
    private readonly string _file;
    private readonly string _path;
    private readonly long _length;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;

    public LocalHttpServer(string file, string name)
    {
        _file = file;
        _path = "/" + name;
        _length = new FileInfo(file).Length;
        _listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen(16);
        int port = ((IPEndPoint)_listener.LocalEndPoint!).Port;
        Uri = new Uri($"http://127.0.0.1:{port}{_path}");
        _accepting = AcceptAsync(_stop.Token);
    }

    /// <summary>Where the file is served.</summary>
    public Uri Uri { get; }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        _listener.Dispose();
        try
        {
            await _accepting.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        _stop.Dispose();
    }

    private async Task AcceptAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }

            _ = Task.Run(() => ServeAsync(client, cancellationToken), CancellationToken.None);
        }
    }

    private async Task ServeAsync(Socket client, CancellationToken cancellationToken)
    {
        using (client)
        {
            try
            {
                string? target = await ReadRequestTargetAsync(client, cancellationToken).ConfigureAwait(false);
                if (target == _path)
                {
                    byte[] head = Encoding.ASCII.GetBytes($"HTTP/1.1 200 OK\r\nContent-Type: application/x-tar\r\nContent-Length: {_length}\r\nConnection: close\r\n\r\n");
                    await client.SendFileAsync(_file, head, ReadOnlyMemory<byte>.Empty, TransmitFileOptions.UseDefaultWorkerThread, cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    byte[] notFound = Encoding.ASCII.GetBytes("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                    await client.SendAsync(notFound, SocketFlags.None, cancellationToken).ConfigureAwait(false);
                }

                client.Shutdown(SocketShutdown.Send);
            }
            catch (Exception e) when (e is SocketException or IOException or OperationCanceledException)
            {
                // The client went away; nothing to serve.
            }
        }
    }

    /// <summary>Reads the request head (up to the blank line) and returns the target of a GET, or null.</summary>
    private static async Task<string?> ReadRequestTargetAsync(Socket client, CancellationToken cancellationToken)
    {
        byte[] buffer = new byte[16 * 1024];
        int filled = 0;
        while (filled < buffer.Length)
        {
            int n = await client.ReceiveAsync(buffer.AsMemory(filled), SocketFlags.None, cancellationToken).ConfigureAwait(false);
            if (n == 0)
                return null;
            filled += n;
            string head = Encoding.ASCII.GetString(buffer, 0, filled);
            int end = head.IndexOf("\r\n\r\n", StringComparison.Ordinal);
            if (end < 0)
                continue;
            string[] parts = head[..head.IndexOf("\r\n", StringComparison.Ordinal)].Split(' ');
            return parts.Length == 3 && parts[0] == "GET" ? parts[1] : null;
        }

        return null;
    }
}
