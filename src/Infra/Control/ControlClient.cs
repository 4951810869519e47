using System.Net;
using System.Net.Sockets;
using Grpc.Core;
using Grpc.Net.Client;
using Grpc.Net.Client.Web;
using InfraMind.Node.Protos.Control;

namespace InfraMind.Node.Control;

/// <summary>
/// The CLI's side of the control socket: a Grpc.Net.Client channel speaking gRPC-Web over HTTP/1.1 to the
/// Unix socket at control.socket, and the one-line errors for when the agent is not there.
/// </summary>
public sealed class ControlClient : IDisposable
{
    /// <summary>A unary call that takes longer than this means a stuck agent: say so instead of hanging.</summary>
    public static readonly TimeSpan UnaryTimeout = TimeSpan.FromSeconds(10);

    private readonly GrpcChannel _channel;

    private ControlClient(string socketPath, GrpcChannel channel)
    {
        SocketPath = socketPath;
        _channel = channel;
        Client = new Protos.Control.Control.ControlClient(channel);
    }

    public string SocketPath { get; }

    public Protos.Control.Control.ControlClient Client { get; }

    /// <summary>
    /// Opens a client for the socket, or throws the one-line runtime error when no socket file exists there
    /// (the common case of an agent that is not running), before any connection is tried.
    /// </summary>
    public static ControlClient Open(string socketPath)
    {
        if (!File.Exists(socketPath))
            ThrowHelper.ThrowRuntime($"the agent is not running: no control socket at {socketPath}; start it with `infra run`");

        var sockets = new SocketsHttpHandler
        {
            // Every request goes to the one Unix socket, whatever host the URI names.
            ConnectCallback = async (_, cancellationToken) =>
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try
                {
                    await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), cancellationToken).ConfigureAwait(false);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        };
        // HTTP/1.1 because the agent's listener speaks only that (CONTRACT.md §6); gRPC-Web makes it enough.
        var web = new GrpcWebHandler(GrpcWebMode.GrpcWeb, sockets);
        GrpcChannel channel = GrpcChannel.ForAddress("http://localhost", new GrpcChannelOptions
        {
            HttpHandler = web,
            HttpVersion = HttpVersion.Version11,
            HttpVersionPolicy = HttpVersionPolicy.RequestVersionExact,
            DisposeHttpClient = true,
        });
        return new ControlClient(socketPath, channel);
    }

    public static CallOptions UnaryOptions(CancellationToken cancellationToken) =>
        new(deadline: DateTime.UtcNow + UnaryTimeout, cancellationToken: cancellationToken);

    /// <summary>Turns a failed call into the one line the CLI prints (exit 1), naming the cause and the fix.</summary>
    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    public void Fail(RpcException e, string command)
    {
        string line = e.StatusCode switch
        {
            StatusCode.Unavailable when Find<SocketException>(e) is { } s && s.SocketErrorCode is SocketError.ConnectionRefused or SocketError.AddressNotAvailable =>
                $"the agent is not running: the control socket at {SocketPath} refuses connections; start it with `infra run`",
            StatusCode.Unavailable when Find<SocketException>(e) is { SocketErrorCode: SocketError.AccessDenied } || Find<UnauthorizedAccessException>(e) is not null =>
                $"cannot open the control socket at {SocketPath}: permission denied; run as root or as a member of the socket's group",
            StatusCode.Unavailable when Find<SocketException>(e) is { } s =>
                $"cannot reach the agent at {SocketPath}: {s.Message}; check that `infra run` is running",
            StatusCode.DeadlineExceeded =>
                $"the agent at {SocketPath} did not answer within {UnaryTimeout.TotalSeconds:0} s; check its log, or restart it",
            _ => $"{command}: the agent answered {e.StatusCode}: {e.Status.Detail}",
        };
        ThrowHelper.ThrowRuntime(line, e);
    }

    public void Dispose() => _channel.Dispose();

    private static T? Find<T>(Exception e)
        where T : Exception
    {
        for (Exception? current = e; current is not null; current = current.InnerException)
        {
            if (current is T match)
                return match;
        }

        return null;
    }
}
