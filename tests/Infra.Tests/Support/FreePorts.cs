using System.Net;
using System.Net.Sockets;

namespace InfraMind.Node.Tests.Support;

/// <summary>A loopback TCP port nobody listens on right now (the kernel's pick for port 0).</summary>
public static class FreePorts
{
    public static int Next()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }
}
