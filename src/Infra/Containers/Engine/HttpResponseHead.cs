using System.Buffers;
using System.Buffers.Text;
using System.Diagnostics.CodeAnalysis;
using System.Text;

namespace InfraMind.Node.Containers.Engine;

/// <summary>How the body after a response head is delimited.</summary>
public enum BodyFraming
{
    /// <summary>No body (204, 304, HEAD-like answers, Content-Length: 0).</summary>
    None,
    ContentLength,
    Chunked,

    /// <summary>HTTP/1.0 style: the body runs until the engine closes the connection.</summary>
    UntilClose,

    /// <summary>101 Switching Protocols: the connection is now a raw stream (attach).</summary>
    Upgraded,
}

/// <summary>The parts of an HTTP/1.1 response head the engine client acts on.</summary>
public readonly record struct HttpResponseHead(int Status, BodyFraming Framing, long ContentLength, bool KeepAlive, string? ContentType)
{
    /// <summary>Largest response head accepted; the engine's are a few hundred bytes.</summary>
    public const int MaxHeadBytes = 16 * 1024;

    public const int MaxHeaders = 64;

    /// <summary>
    /// Parses a response head from the start of <paramref name="buffer"/>. False when more bytes are needed;
    /// <paramref name="consumed"/> then is the start. A malformed head throws <see cref="EngineException"/>
    /// with <see cref="EngineError.Protocol"/>. A pure function of the bytes: the connection owns buffers and limits.
    /// </summary>
    public static bool TryParse(ReadOnlySequence<byte> buffer, out HttpResponseHead head, out SequencePosition consumed)
    {
        head = default;
        consumed = buffer.Start;
        var reader = new SequenceReader<byte>(buffer);
        if (!reader.TryReadTo(out ReadOnlySequence<byte> statusLine, "\r\n"u8))
        {
            if (buffer.Length > MaxHeadBytes)
                Fail("the response head is over 16 KiB");
            return false;
        }

        int status = ParseStatusLine(statusLine);
        long contentLength = -1;
        bool chunked = false;
        bool close = false;
        string? contentType = null;
        for (int count = 0; ; count++)
        {
            if (!reader.TryReadTo(out ReadOnlySequence<byte> line, "\r\n"u8))
            {
                if (buffer.Length > MaxHeadBytes)
                    Fail("the response head is over 16 KiB");
                return false;
            }

            if (line.IsEmpty)
                break;
            if (count == MaxHeaders)
                Fail($"the response has over {MaxHeaders} headers");
            if (reader.Consumed > MaxHeadBytes)
                Fail("the response head is over 16 KiB");

            ReadOnlySpan<byte> header = line.IsSingleSegment ? line.FirstSpan : line.ToArray();
            int colon = header.IndexOf((byte)':');
            if (colon <= 0)
                Fail("a header line has no name");
            ReadOnlySpan<byte> name = header[..colon];
            ReadOnlySpan<byte> value = header[(colon + 1)..].Trim((byte)' ').Trim((byte)'\t');
            if (Ascii.EqualsIgnoreCase(name, "Content-Length"u8))
            {
                if (!Utf8Parser.TryParse(value, out long length, out int used) || used != value.Length || length < 0)
                    Fail("Content-Length is not a number");
                if (contentLength >= 0 && contentLength != length)
                    Fail("two different Content-Length headers");
                contentLength = length;
            }
            else if (Ascii.EqualsIgnoreCase(name, "Transfer-Encoding"u8))
            {
                if (!Ascii.EqualsIgnoreCase(value, "chunked"u8))
                    Fail("a Transfer-Encoding other than chunked");
                chunked = true;
            }
            else if (Ascii.EqualsIgnoreCase(name, "Connection"u8))
            {
                close = value.IndexOf("close"u8) >= 0 || Ascii.EqualsIgnoreCase(value, "Close"u8);
            }
            else if (Ascii.EqualsIgnoreCase(name, "Content-Type"u8))
            {
                contentType = Encoding.ASCII.GetString(value);
            }
        }

        if (chunked && contentLength >= 0)
            Fail("both Content-Length and Transfer-Encoding: chunked");

        BodyFraming framing = status switch
        {
            101 => BodyFraming.Upgraded,
            204 or 304 => BodyFraming.None,
            _ when chunked => BodyFraming.Chunked,
            _ when contentLength == 0 => BodyFraming.None,
            _ when contentLength > 0 => BodyFraming.ContentLength,
            _ => BodyFraming.UntilClose,
        };
        bool keepAlive = !close && framing is not (BodyFraming.UntilClose or BodyFraming.Upgraded);
        head = new HttpResponseHead(status, framing, Math.Max(contentLength, 0), keepAlive, contentType);
        consumed = reader.Position;
        return true;
    }

    private static int ParseStatusLine(ReadOnlySequence<byte> line)
    {
        ReadOnlySpan<byte> span = line.IsSingleSegment ? line.FirstSpan : line.ToArray();
        // "HTTP/1.1 200 OK": version, space, three digits, then an optional reason.
        if (span.Length < 12 || !(span.StartsWith("HTTP/1.1 "u8) || span.StartsWith("HTTP/1.0 "u8)))
            Fail("the status line is not HTTP/1.x");
        ReadOnlySpan<byte> code = span.Slice(9, 3);
        if (!Utf8Parser.TryParse(code, out int status, out int used) || used != 3 || status < 100 || (span.Length > 12 && span[12] != (byte)' '))
            Fail("the status code is not three digits");
        return status;
    }

    [DoesNotReturn]
    private static void Fail(string what) =>
        throw new EngineException(EngineError.Protocol, $"the engine sent a malformed HTTP response: {what}");
}
