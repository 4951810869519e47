using System.Buffers;
using System.Buffers.Text;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace InfraMind.Node.Listener.Http;

/// <summary>Writes HTTP/1.1 response pieces into an <see cref="IBufferWriter{T}"/> from u8 literals.</summary>
internal static class Http1Writer
{
    public static void Write(IBufferWriter<byte> writer, ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(writer.GetSpan(bytes.Length));
        writer.Advance(bytes.Length);
    }

    public static void WriteNumber(IBufferWriter<byte> writer, long value)
    {
        Span<byte> span = writer.GetSpan(20);
        Utf8Formatter.TryFormat(value, span, out int written);
        writer.Advance(written);
    }

    public static void WriteHexNumber(IBufferWriter<byte> writer, long value)
    {
        Span<byte> span = writer.GetSpan(16);
        Utf8Formatter.TryFormat(value, span, out int written, new StandardFormat('x'));
        writer.Advance(written);
    }

    /// <summary>ASCII text already checked by the caller (<see cref="IsValidHeaderValue"/>).</summary>
    public static void WriteAscii(IBufferWriter<byte> writer, string text)
    {
        Span<byte> span = writer.GetSpan(text.Length);
        Ascii.FromUtf16(text, span, out int written);
        writer.Advance(written);
    }

    public static bool IsValidHeaderName(string name)
    {
        if (name.Length == 0)
            return false;
        foreach (char c in name)
        {
            if (c > 127 || !HttpRequestParser.IsTokenChar((byte)c))
                return false;
        }

        return true;
    }

    /// <summary>Visible ASCII, space and tab only: no CR or LF, so a value can never inject a header.</summary>
    public static bool IsValidHeaderValue(string value)
    {
        foreach (char c in value)
        {
            if (c > 126 || (c < 0x20 && c != '\t'))
                return false;
        }

        return true;
    }

    public static void WriteStatusLine(IBufferWriter<byte> writer, int status)
    {
        ReadOnlySpan<byte> line = status switch
        {
            100 => "HTTP/1.1 100 Continue\r\n"u8,
            200 => "HTTP/1.1 200 OK\r\n"u8,
            201 => "HTTP/1.1 201 Created\r\n"u8,
            202 => "HTTP/1.1 202 Accepted\r\n"u8,
            204 => "HTTP/1.1 204 No Content\r\n"u8,
            304 => "HTTP/1.1 304 Not Modified\r\n"u8,
            400 => "HTTP/1.1 400 Bad Request\r\n"u8,
            401 => "HTTP/1.1 401 Unauthorized\r\n"u8,
            403 => "HTTP/1.1 403 Forbidden\r\n"u8,
            404 => "HTTP/1.1 404 Not Found\r\n"u8,
            405 => "HTTP/1.1 405 Method Not Allowed\r\n"u8,
            408 => "HTTP/1.1 408 Request Timeout\r\n"u8,
            409 => "HTTP/1.1 409 Conflict\r\n"u8,
            410 => "HTTP/1.1 410 Gone\r\n"u8,
            413 => "HTTP/1.1 413 Content Too Large\r\n"u8,
            414 => "HTTP/1.1 414 URI Too Long\r\n"u8,
            415 => "HTTP/1.1 415 Unsupported Media Type\r\n"u8,
            417 => "HTTP/1.1 417 Expectation Failed\r\n"u8,
            422 => "HTTP/1.1 422 Unprocessable Content\r\n"u8,
            429 => "HTTP/1.1 429 Too Many Requests\r\n"u8,
            431 => "HTTP/1.1 431 Request Header Fields Too Large\r\n"u8,
            500 => "HTTP/1.1 500 Internal Server Error\r\n"u8,
            501 => "HTTP/1.1 501 Not Implemented\r\n"u8,
            503 => "HTTP/1.1 503 Service Unavailable\r\n"u8,
            505 => "HTTP/1.1 505 HTTP Version Not Supported\r\n"u8,
            _ => default,
        };

        if (!line.IsEmpty)
        {
            Write(writer, line);
            return;
        }

        // Any other code: the reason phrase is optional (RFC 9112 §4), so none is invented.
        Write(writer, "HTTP/1.1 "u8);
        WriteNumber(writer, status);
        Write(writer, " \r\n"u8);
    }

    /// <summary>"Date: ...\r\n", formatted at most once a second for the whole process.</summary>
    public static void WriteDate(IBufferWriter<byte> writer) => Write(writer, DateHeader.Current);

    /// <summary>A whole error response: status, JSON body {"error","message"}, and Connection: close.</summary>
    public static void WriteErrorResponse(IBufferWriter<byte> writer, int status, string code, string message, bool close)
    {
        byte[] body = ErrorBody(code, message);
        WriteStatusLine(writer, status);
        WriteDate(writer);
        Write(writer, "Content-Type: application/json\r\nContent-Length: "u8);
        WriteNumber(writer, body.Length);
        Write(writer, close ? "\r\nConnection: close\r\n\r\n"u8 : "\r\n\r\n"u8);
        Write(writer, body);
    }

    /// <summary>
    /// Escapes only what JSON requires (quotes, backslash, control characters), so "0.1.0+abc" and "got 'ninety'" read
    /// as written in curl. The HTML-minded default is for JSON embedded in a page; these bodies are application/json.
    /// </summary>
    internal static JavaScriptEncoder JsonEncoder => JavaScriptEncoder.UnsafeRelaxedJsonEscaping;

    public static byte[] ErrorBody(string code, string message)
    {
        var buffer = new ArrayBufferWriter<byte>(128);
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = JsonEncoder }))
        {
            json.WriteStartObject();
            json.WriteString("error"u8, code);
            json.WriteString("message"u8, message);
            json.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    private static class DateHeader
    {
        private static byte[] s_value = [];
        private static long s_second = -1;

        public static ReadOnlySpan<byte> Current
        {
            get
            {
                DateTimeOffset now = DateTimeOffset.UtcNow;
                long second = now.ToUnixTimeSeconds();
                byte[] value = s_value;
                if (second != Volatile.Read(ref s_second))
                {
                    // A new array, published whole: readers on other threads see the old or the new one, never a mix.
                    value = new byte[6 + 29 + 2];
                    "Date: "u8.CopyTo(value);
                    Utf8Formatter.TryFormat(now, value.AsSpan(6), out _, new StandardFormat('R'));
                    "\r\n"u8.CopyTo(value.AsSpan(35));
                    s_value = value;
                    Volatile.Write(ref s_second, second);
                }

                return value;
            }
        }
    }
}
