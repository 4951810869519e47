using System.Net.Sockets;

namespace InfraMind.Node.Tests.Support;

/// <summary>
/// Image removal for tests, as an operator's prune would do it. Through plain HTTP: the node's engine client has
/// no image delete on purpose (the node never deletes images).
/// </summary>
public static class EngineImages
{
    /// <summary>Removes an image by tag or id (a missing one is not an error).</summary>
    public static async Task RemoveAsync(string engineSocket, string reference)
    {
        using var http = new HttpClient(new SocketsHttpHandler
        {
            ConnectCallback = async (_, ct) =>
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                await socket.ConnectAsync(new UnixDomainSocketEndPoint(engineSocket), ct);
                return new NetworkStream(socket, ownsSocket: true);
            },
        });
        using HttpResponseMessage _ = await http.DeleteAsync(new Uri($"http://engine/images/{Uri.EscapeDataString(reference)}"));
    }
}
