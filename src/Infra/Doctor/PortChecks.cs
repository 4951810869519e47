using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace InfraMind.Node.Doctor;

/// <summary>Whether `infra run` could take its endpoints: the public port and the control socket, or an agent already holds them.</summary>
public static class PortChecks
{
    /// <summary>sun_path is 108 bytes on Linux, one for the terminating NUL.</summary>
    public const int MaxSocketPathBytes = 107;

    /// <summary>What the control socket's path holds now.</summary>
    public enum ControlState
    {
        /// <summary>Nothing there; the agent can create it.</summary>
        Free,

        /// <summary>A socket a process answers on: an agent is running.</summary>
        AgentRunning,

        /// <summary>A socket nobody answers on, left by an agent that died; `infra run` replaces it.</summary>
        Stale,

        /// <summary>The path cannot be used (too long, folder not writable, not a socket).</summary>
        Unusable,
    }

    /// <summary>The control socket line, and what it found (the port check leans on it to tell an agent from a stranger).</summary>
    public static (CheckResult Result, ControlState State) ControlSocket(string path)
    {
        const string name = "control";
        if (Encoding.UTF8.GetByteCount(path) > MaxSocketPathBytes)
        {
            return (CheckResult.Failed(name, $"control.socket {path} is over {MaxSocketPathBytes} bytes, the longest Unix socket path", "set control.socket to a shorter path"), ControlState.Unusable);
        }

        if (Path.Exists(path))
        {
            if (!Interop.Libc.TryStat(path, out _, out uint mode, out int errno))
                return (CheckResult.Failed(name, $"cannot inspect {path} (errno {errno})", $"check `ls -l {path}` and run as the agent's user"), ControlState.Unusable);
            if ((mode & Interop.Libc.FileTypeMask) != Interop.Libc.SocketFile)
            {
                // The agent deletes whatever no process answers on there, so a plain file would be lost: say so first.
                return (CheckResult.Failed(name, $"{path} exists and is not a socket; `infra run` would delete it", $"move it away, or set control.socket to another path"), ControlState.Unusable);
            }

            using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            try
            {
                // A Unix connect answers at once (refused, or queued on the backlog): no timeout is needed.
                probe.Connect(new UnixDomainSocketEndPoint(path));
                return (CheckResult.Ok(name, $"{path}: an agent is running and answers there (`infra status` talks to it)"), ControlState.AgentRunning);
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionRefused or SocketError.AddressNotAvailable)
            {
                return (CheckResult.Ok(name, $"{path}: stale socket of an agent that stopped; `infra run` replaces it"), ControlState.Stale);
            }
            catch (SocketException e)
            {
                return (CheckResult.Failed(name, $"cannot connect to {path}: {e.Message}", $"run as the agent's user (the socket is mode 0660), or set control.socket"), ControlState.Unusable);
            }
        }

        string? folder = Path.GetDirectoryName(Path.GetFullPath(path));
        string? existing = folder is null ? null : HostChecks.NearestExisting(folder);
        if (existing is null || !Directory.Exists(existing))
            return (CheckResult.Failed(name, $"{path}: its folder cannot be created", "set control.socket to a path under a writable folder"), ControlState.Unusable);
        if (!HostChecks.CanWrite(existing))
            return (CheckResult.Failed(name, $"{path}: {existing} is not writable by this user", $"run as root or as the owner of {existing}, or set control.socket"), ControlState.Unusable);
        return (CheckResult.Ok(name, $"{path} is free (no agent running)"), ControlState.Free);
    }

    /// <summary>Binds listener.bind:listener.port the way the agent will, then lets it go.</summary>
    public static CheckResult ListenerPort(string bind, int port, ControlState control)
    {
        const string name = "port";
        string where = string.Create(CultureInfo.InvariantCulture, $"{bind}:{port}");
        if (!IPAddress.TryParse(bind, out IPAddress? address))
            return CheckResult.Failed(name, $"listener.bind '{bind}' is not an IP address", "set listener.bind to 0.0.0.0 or 127.0.0.1");

        using var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            if (address.AddressFamily == AddressFamily.InterNetworkV6)
                socket.DualMode = true; // as the agent does: [::] takes the IPv4 port too
            socket.Bind(new IPEndPoint(address, port));
            socket.Listen(1);
            return CheckResult.Ok(name, $"{where} is free");
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressAlreadyInUse)
        {
            string holder = string.Create(CultureInfo.InvariantCulture, $"ss -ltnp 'sport = :{port}'");
            if (control == ControlState.AgentRunning)
            {
                return CheckResult.Warning(name, $"{where} is in use, most likely by the running agent (its control socket answers)",
                    $"nothing to do if `infra status` answers; else find the holder with `{holder}`");
            }

            return CheckResult.Failed(name, $"{where} is in use by another process", $"stop what holds it (`{holder}`) or set listener.port to a free port");
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.AccessDenied)
        {
            return CheckResult.Failed(name, $"{where}: binding needs privileges (ports under 1024 are root's)", "run as root, grant CAP_NET_BIND_SERVICE, or set listener.port to 1024 or above");
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressNotAvailable)
        {
            return CheckResult.Failed(name, $"{where}: no interface of this host has {bind}", "set listener.bind to one of this host's addresses, or 0.0.0.0");
        }
        catch (SocketException e)
        {
            return CheckResult.Failed(name, $"cannot listen on {where}: {e.Message}", "set listener.bind and listener.port to an address and port this host can serve");
        }
    }
}
