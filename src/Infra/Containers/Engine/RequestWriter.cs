using System.Buffers;
using System.Globalization;
using System.Text;

namespace InfraMind.Node.Containers.Engine;

/// <summary>Writes an HTTP/1.1 request head straight into the connection's buffer.</summary>
internal static class RequestWriter
{
    public static void WriteHead(IBufferWriter<byte> output, string method, string target, long? contentLength, string? contentType, bool upgrade = false, string host = "engine")
    {
        Ascii(output, method);
        output.Write(" "u8);
        Ascii(output, target);
        output.Write(" HTTP/1.1\r\nHost: "u8);
        Ascii(output, host);
        output.Write("\r\nUser-Agent: infra\r\n"u8);
        if (upgrade)
            output.Write("Connection: Upgrade\r\nUpgrade: tcp\r\n"u8);
        if (contentType is not null)
        {
            output.Write("Content-Type: "u8);
            Ascii(output, contentType);
            output.Write("\r\n"u8);
        }

        if (contentLength is { } length)
        {
            output.Write("Content-Length: "u8);
            Ascii(output, length.ToString(CultureInfo.InvariantCulture));
            output.Write("\r\n"u8);
        }

        output.Write("\r\n"u8);
    }

    private static void Ascii(IBufferWriter<byte> output, string text)
    {
        // Targets are built from ids and escaped query values; anything outside printable ASCII is a bug.
        foreach (char c in text)
        {
            if (c is < '!' or > '~')
                throw new ArgumentException($"request text contains a non-printable character: {text}", nameof(text));
        }

        Span<byte> span = output.GetSpan(text.Length);
        int written = Encoding.ASCII.GetBytes(text, span);
        output.Advance(written);
    }
}
