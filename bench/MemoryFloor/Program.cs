using System.Net;
using System.Net.Sockets;

// `MemoryFloor [--sha256]`: listens on 127.0.0.1:9555 and answers every connection with a fixed 200. With --sha256 it
// first hashes three bytes with .NET's SHA-256, which on Linux loads OpenSSL, as NBitcoin.Secp256k1's signing
// context does in the node.
if (args.Contains("--sha256"))
    Console.WriteLine(Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(new byte[3])));
using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
listener.Bind(new IPEndPoint(IPAddress.Loopback, 9555));
listener.Listen(100);
byte[] answer = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"u8.ToArray();
byte[] buffer = new byte[4096];
while (true)
{
    using Socket connection = await listener.AcceptAsync();
    await connection.ReceiveAsync(buffer);
    await connection.SendAsync(answer);
}
