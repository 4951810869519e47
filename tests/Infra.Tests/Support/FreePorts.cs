using System.Net;
using System.Net.Sockets;

namespace InfraMind.Node.Tests.Support;

/// <summary>
/// A loopback TCP port nobody listens on right now, and that no other test in this run was given.
/// </summary>
/// <remarks>
/// Ports come from 20000–31999, below Linux's ephemeral range (32768–60999): the kernel's pick for port 0 and the
/// source ports of outgoing connections come from that range, so a port probed there and let go could be taken
/// by anything before the test bound it again. Here each port is handed out once per run, in turn from a random
/// start, after a probe bind shows nobody else (another process) holds it.
/// </remarks>
public static class FreePorts
{
    private const int First = 20000;
    private const int Count = 12000;
    private static int _handedOut = Random.Shared.Next(Count);

    public static int Next()
    {
        for (int tries = 0; tries < Count; tries++)
        {
            int port = First + (int)((uint)Interlocked.Increment(ref _handedOut) % Count);
            try
            {
                using var probe = new TcpListener(IPAddress.Loopback, port);
                probe.Start();
                return port;
            }
            catch (SocketException)
            {
                // Held by another process: try the next.
            }
        }

        throw new InvalidOperationException($"no free loopback port in {First}–{First + Count - 1}");
    }
}
