using System.Net.Sockets;
using System.Text;

namespace InfraMind.Node.Agent;

/// <summary>
/// The sd_notify protocol without libsystemd: one datagram per message to the socket systemd names in
/// NOTIFY_SOCKET (a path, or "@name" for the abstract namespace). Does nothing when not run by systemd.
/// </summary>
public sealed class SystemdNotifier : IDisposable
{
    private readonly Socket? _socket;
    private readonly UnixDomainSocketEndPoint? _target;

    public SystemdNotifier(string? notifySocket)
    {
        if (string.IsNullOrEmpty(notifySocket) || (notifySocket[0] != '/' && notifySocket[0] != '@'))
            return;
        // An abstract socket's name starts with a NUL byte where systemd writes '@'.
        _target = new UnixDomainSocketEndPoint(notifySocket[0] == '@' ? "\0" + notifySocket[1..] : notifySocket);
        _socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
    }

    public static SystemdNotifier FromEnvironment() => new(Environment.GetEnvironmentVariable("NOTIFY_SOCKET"));

    public bool Enabled => _socket is not null;

    /// <summary>
    /// The watchdog interval systemd expects pings within (WATCHDOG_USEC), or null when the watchdog is off or
    /// meant for another process (WATCHDOG_PID).
    /// </summary>
    public static TimeSpan? WatchdogInterval()
    {
        string? pid = Environment.GetEnvironmentVariable("WATCHDOG_PID");
        if (pid is not null && pid != Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture))
            return null;
        return long.TryParse(Environment.GetEnvironmentVariable("WATCHDOG_USEC"), out long usec) && usec > 0
            ? TimeSpan.FromMicroseconds(usec)
            : null;
    }

    public void Ready(string status) => Send($"READY=1\nSTATUS={OneLine(status)}");

    public void Status(string status) => Send($"STATUS={OneLine(status)}");

    public void Watchdog() => Send("WATCHDOG=1");

    public void Stopping(string status) => Send($"STOPPING=1\nSTATUS={OneLine(status)}");

    private void Send(string message)
    {
        if (_socket is null)
            return;
        try
        {
            _socket.SendTo(Encoding.UTF8.GetBytes(message), SocketFlags.None, _target!);
        }
        catch (SocketException)
        {
            // systemd went away or the socket is gone: readiness is best effort, the agent keeps serving.
        }
    }

    private static string OneLine(string s) => s.ReplaceLineEndings(" ");

    public void Dispose() => _socket?.Dispose();
}
