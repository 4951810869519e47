using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace InfraMind.Node.Tests.Doctor;

/// <summary>
/// A tiny h2c (prior-knowledge HTTP/2) server that answers every request with `:status 404` and a Date header it is
/// told to send, the way a gRPC scheduler answers a plain GET. Enough HTTP/2 for HttpClient: its SETTINGS, the
/// SETTINGS ack, one HEADERS frame per request. Modes for the hostile cases: a chosen raw Date value, no Date at all,
/// silence after accept, and an HTTP/1.1 answer to the HTTP/2 preface.
/// </summary>
internal sealed class Http2DateServer : IAsyncDisposable
{
    public enum Mode
    {
        Answer,
        Silent,
        Http1,
    }

    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Func<string?> _date;
    private readonly Mode _mode;
    private readonly List<Socket> _held = [];
    private readonly Task _loop;

    /// <param name="date">The Date header's raw value per request; null sends none.</param>
    public Http2DateServer(Func<string?> date, Mode mode = Mode.Answer)
    {
        _date = date;
        _mode = mode;
        _listener.Start();
        _loop = AcceptLoopAsync();
    }

    public Uri Uri => new($"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}");

    public int Requests;

    /// <summary>A server whose clock is <paramref name="offset"/> away from this host's.</summary>
    public static Http2DateServer Skewed(TimeSpan offset) => new(() => (DateTimeOffset.UtcNow + offset).ToString("r", System.Globalization.CultureInfo.InvariantCulture));

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        lock (_held)
        {
            foreach (Socket socket in _held)
                socket.Dispose();
        }

        try
        {
            await _loop;
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }

        _stop.Dispose();
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket socket = await _listener.AcceptSocketAsync(_stop.Token);
            lock (_held)
                _held.Add(socket);
            if (_mode != Mode.Silent)
                _ = ServeAsync(socket);
        }
    }

    private async Task ServeAsync(Socket socket)
    {
        try
        {
            await using var stream = new NetworkStream(socket, ownsSocket: false);
            byte[] preface = new byte[24];
            await stream.ReadExactlyAsync(preface, _stop.Token);
            if (_mode == Mode.Http1)
            {
                await stream.WriteAsync("HTTP/1.1 400 Bad Request\r\nDate: Mon, 01 Jan 2024 00:00:00 GMT\r\nContent-Length: 0\r\n\r\n"u8.ToArray(), _stop.Token);
                return;
            }

            await stream.WriteAsync(Frame(4, 0, 0, []), _stop.Token); // our SETTINGS: all defaults
            byte[] head = new byte[9];
            while (true)
            {
                await stream.ReadExactlyAsync(head, _stop.Token);
                int length = (head[0] << 16) | (head[1] << 8) | head[2];
                byte type = head[3];
                byte flags = head[4];
                int streamId = BinaryPrimitives.ReadInt32BigEndian(head.AsSpan(5)) & int.MaxValue;
                byte[] payload = new byte[length];
                await stream.ReadExactlyAsync(payload, _stop.Token);
                if (type == 4 && (flags & 1) == 0)
                    await stream.WriteAsync(Frame(4, 1, 0, []), _stop.Token); // ack the client's SETTINGS
                else if (type == 1)
                {
                    Interlocked.Increment(ref Requests);
                    await stream.WriteAsync(Frame(1, 0x5, streamId, Headers(_date())), _stop.Token); // END_STREAM | END_HEADERS
                }
            }
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or SocketException or ObjectDisposedException or EndOfStreamException)
        {
            // The client went away, or the test is over.
        }
    }

    /// <summary>HPACK: ":status: 404" from the static table (index 13), then "date" (static name 33) as a literal.</summary>
    private static byte[] Headers(string? date)
    {
        var block = new List<byte> { 0x80 | 13 };
        if (date is not null)
        {
            byte[] value = Encoding.ASCII.GetBytes(date);
            block.Add(0x40 | 33);
            Integer(block, 7, 0, value.Length);
            block.AddRange(value);
        }

        return [.. block];
    }

    private static void Integer(List<byte> output, int prefixBits, byte high, int value)
    {
        int max = (1 << prefixBits) - 1;
        if (value < max)
        {
            output.Add((byte)(high | value));
            return;
        }

        output.Add((byte)(high | max));
        value -= max;
        while (value >= 128)
        {
            output.Add((byte)((value & 0x7f) | 0x80));
            value >>= 7;
        }

        output.Add((byte)value);
    }

    private static byte[] Frame(byte type, byte flags, int streamId, byte[] payload)
    {
        byte[] frame = new byte[9 + payload.Length];
        frame[0] = (byte)(payload.Length >> 16);
        frame[1] = (byte)(payload.Length >> 8);
        frame[2] = (byte)payload.Length;
        frame[3] = type;
        frame[4] = flags;
        BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(5), streamId);
        payload.CopyTo(frame, 9);
        return frame;
    }
}
