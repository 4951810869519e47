using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using InfraMind.Node.Containers.Runs;
using InfraMind.Node.Interop;

namespace InfraMind.Node.Containers.Sandbox;

/// <summary>
/// Reaches a container that has no network but its own loopback. A socket belongs to the network namespace
/// it was created in, so a dedicated thread joins the container's namespace (setns), creates the socket and
/// goes back; the socket is then used from anywhere, and the container keeps NetworkMode none.
/// Needs CAP_SYS_ADMIN (the agent runs as root to reach the engine socket anyway).
/// </summary>
public static class NetworkNamespace
{
    /// <summary>Creates a TCP socket inside the network namespace of process <paramref name="pid"/>.</summary>
    public static Socket CreateSocketIn(int pid, string procRoot = "/proc")
    {
        Socket? socket = null;
        Exception? failure = null;
        string path = Path.Combine(procRoot, pid.ToString(CultureInfo.InvariantCulture), "ns", "net");
        var thread = new Thread(() =>
        {
            try
            {
                using SafeFileHandle own = File.OpenHandle("/proc/thread-self/ns/net");
                using SafeFileHandle target = File.OpenHandle(path);
                if (Libc.Setns(target, Libc.CloneNewNet) != 0)
                    throw new SandboxException(RunFailure.Engine, $"cannot enter the network namespace of process {pid}: {Marshal.GetLastPInvokeErrorMessage()}; fix: run the agent as root (it needs CAP_SYS_ADMIN)");
                try
                {
                    socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                }
                finally
                {
                    // The thread ends right after, but it must never run .NET code inside a container's namespace.
                    if (Libc.Setns(own, Libc.CloneNewNet) != 0)
                        Environment.FailFast($"could not return to the agent's network namespace: {Marshal.GetLastPInvokeErrorMessage()}");
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or SandboxException)
            {
                failure = e;
            }
        })
        {
            IsBackground = true,
            Name = "netns-enter",
        };
        thread.Start();
        thread.Join();
        if (failure is SandboxException sandbox)
            throw sandbox;
        if (failure is not null)
            throw new SandboxException(RunFailure.Engine, $"cannot open the network namespace {path}: {failure.Message}", failure);
        return socket!;
    }

    /// <summary>Connects to <paramref name="port"/> on the container's own loopback.</summary>
    public static async Task<Socket> ConnectLoopbackAsync(int pid, int port, CancellationToken cancellationToken, string procRoot = "/proc")
    {
        Socket socket = CreateSocketIn(pid, procRoot);
        try
        {
            await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), cancellationToken).ConfigureAwait(false);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}
