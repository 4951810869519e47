using System.Net;
using System.Net.Sockets;
using System.Text;

namespace InfraMind.Node.JobBench;

/// <summary>
/// The bundles' HTTP origin on 127.0.0.1: GET /files/{name} serves a file of one folder (Content-Length,
/// connection closed after); GET /held/... is read and never answered, so a job that fetches from there stays
/// in `preparing` (off the engine) until its deadline cancels the fetch. Counts what it served and held.
/// </summary>
internal sealed class BundleServer : IAsyncDisposable
{
    private readonly Socket _listener;
    private readonly string _folder;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;
    private int _served;
    private int _held;

    public BundleServer(string folder)
    {
        _folder = folder;
        _listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen(512);
        Port = ((IPEndPoint)_listener.LocalEndPoint!).Port;
        _accepting = AcceptAsync(_stop.Token);
    }

    public int Port { get; }

    public int Served => _served;

    public int Held => _held;

    public string FileUri(string name) => $"http://127.0.0.1:{Port}/files/{name}";

    public string HeldUri(string name) => $"http://127.0.0.1:{Port}/held/{name}";

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
                string? target = await ReadTargetAsync(client, cancellationToken).ConfigureAwait(false);
                if (target is not null && target.StartsWith("/held/", StringComparison.Ordinal))
                {
                    Interlocked.Increment(ref _held);
                    // Hold until the node gives up (its deadline cancels the fetch and closes the socket).
                    byte[] sink = new byte[256];
                    while (await client.ReceiveAsync(sink, SocketFlags.None, cancellationToken).ConfigureAwait(false) > 0)
                    {
                    }

                    return;
                }

                string? file = target is not null && target.StartsWith("/files/", StringComparison.Ordinal)
                    ? Path.Combine(_folder, Path.GetFileName(target["/files/".Length..]))
                    : null;
                if (file is not null && File.Exists(file))
                {
                    byte[] head = Encoding.ASCII.GetBytes($"HTTP/1.1 200 OK\r\nContent-Type: application/gzip\r\nContent-Length: {new FileInfo(file).Length}\r\nConnection: close\r\n\r\n");
                    await client.SendFileAsync(file, head, ReadOnlyMemory<byte>.Empty, TransmitFileOptions.UseDefaultWorkerThread, cancellationToken).ConfigureAwait(false);
                    Interlocked.Increment(ref _served);
                }
                else
                {
                    await client.SendAsync("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"u8.ToArray(), SocketFlags.None, cancellationToken).ConfigureAwait(false);
                }

                client.Shutdown(SocketShutdown.Send);
            }
            catch (Exception e) when (e is SocketException or IOException or OperationCanceledException)
            {
                // The node went away; nothing to serve.
            }
        }
    }

    private static async Task<string?> ReadTargetAsync(Socket client, CancellationToken cancellationToken)
    {
        byte[] buffer = new byte[16 * 1024];
        int filled = 0;
        while (filled < buffer.Length)
        {
            int n = await client.ReceiveAsync(buffer.AsMemory(filled), SocketFlags.None, cancellationToken).ConfigureAwait(false);
            if (n == 0)
                return null;
            filled += n;
            int end = buffer.AsSpan(0, filled).IndexOf("\r\n\r\n"u8);
            if (end < 0)
                continue;
            string[] parts = Encoding.ASCII.GetString(buffer, 0, buffer.AsSpan(0, filled).IndexOf("\r\n"u8)).Split(' ');
            return parts.Length == 3 && parts[0] == "GET" ? parts[1] : null;
        }

        return null;
    }

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
}
