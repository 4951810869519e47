using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using Google.Protobuf;
using Grpc.Core;

namespace InfraMind.Node.Control;

/// <summary>Why a gRPC-Web body could not be read; <see cref="GrpcWeb.ToStatus"/> maps each to a gRPC status.</summary>
public enum GrpcWebFrameError
{
    None,

    /// <summary>The body ended inside a frame header or payload.</summary>
    Truncated,

    /// <summary>The compressed flag (0x01) is set: this server negotiates no compression.</summary>
    Compressed,

    /// <summary>The frame's length is over the message size limit.</summary>
    TooLarge,

    /// <summary>A flag bit other than compressed (0x01) and trailer (0x80) is set.</summary>
    ReservedFlags,

    /// <summary>A trailer frame (0x80) where a request message belongs: clients send none.</summary>
    UnexpectedTrailer,

    /// <summary>A unary request body holds no frame at all.</summary>
    MissingMessage,

    /// <summary>A unary request body holds more bytes after its one message.</summary>
    TrailingData,
}

/// <summary>What <see cref="GrpcWeb.TryReadFrame"/> found at the front of the buffer.</summary>
public enum GrpcWebReadResult
{
    /// <summary>One whole frame was read and removed from the buffer.</summary>
    Frame,

    /// <summary>The buffer ends inside a frame (or is empty): read more, or fail with Truncated at the end.</summary>
    Incomplete,

    /// <summary>The frame can never be valid: see the error.</summary>
    Invalid,
}

/// <summary>One gRPC-Web frame: its flag byte and payload (a message, or trailer text when <see cref="IsTrailer"/>).</summary>
public readonly record struct GrpcWebFrame(byte Flags, ReadOnlySequence<byte> Payload)
{
    public bool IsTrailer => (Flags & GrpcWeb.TrailerFlag) != 0;
}

/// <summary>
/// The gRPC-Web wire format over HTTP/1.1 (https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-WEB.md), as
/// pure functions of bytes: frames are a flag byte, a big-endian uint32 length and the payload; a response is
/// data frames then one trailer frame (flag 0x80) carrying "grpc-status: N\r\ngrpc-message: ...\r\n".
/// The connection that calls these owns buffers, timeouts and the body size limit.
/// </summary>
public static class GrpcWeb
{
    public const int HeaderLength = 5;

    /// <summary>gRPC's default receive limit, the same one Grpc.Net.Client applies to our replies.</summary>
    public const int MaxMessageBytes = 4 * 1024 * 1024;

    public const byte DataFlag = 0x00;
    public const byte CompressedFlag = 0x01;
    public const byte TrailerFlag = 0x80;

    public const string ContentTypeProto = "application/grpc-web+proto";
    public const string ContentType = "application/grpc-web";

    /// <summary>
    /// True for `application/grpc-web` and `application/grpc-web+proto`, with any parameters, in any case.
    /// The base64 `-text` variant is not served (HTTP 415): the CLI never sends it.
    /// </summary>
    public static bool IsGrpcWebContentType(ReadOnlySpan<char> contentType)
    {
        int semicolon = contentType.IndexOf(';');
        ReadOnlySpan<char> media = (semicolon >= 0 ? contentType[..semicolon] : contentType).Trim();
        return media.Equals(ContentType, StringComparison.OrdinalIgnoreCase)
            || media.Equals(ContentTypeProto, StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>
    /// Reads the frame at the front of <paramref name="buffer"/> and slices it off. The length is checked
    /// against <paramref name="maxMessageBytes"/> from the header alone, so a hostile length fails at once
    /// instead of making the caller wait for (or buffer) gigabytes.
    /// </summary>
    public static GrpcWebReadResult TryReadFrame(ref ReadOnlySequence<byte> buffer, int maxMessageBytes, out GrpcWebFrame frame, out GrpcWebFrameError error)
    {
        frame = default;
        error = GrpcWebFrameError.None;
        if (buffer.Length < HeaderLength)
            return GrpcWebReadResult.Incomplete;

        Span<byte> header = stackalloc byte[HeaderLength];
        buffer.Slice(0, HeaderLength).CopyTo(header);
        byte flags = header[0];
        if ((flags & CompressedFlag) != 0)
            return Fail(GrpcWebFrameError.Compressed, out error);
        if ((flags & ~(CompressedFlag | TrailerFlag)) != 0)
            return Fail(GrpcWebFrameError.ReservedFlags, out error);

        uint length = BinaryPrimitives.ReadUInt32BigEndian(header[1..]);
        if (length > (uint)maxMessageBytes)
            return Fail(GrpcWebFrameError.TooLarge, out error);
        if (buffer.Length - HeaderLength < length)
            return GrpcWebReadResult.Incomplete;

        frame = new GrpcWebFrame(flags, buffer.Slice(HeaderLength, length));
        buffer = buffer.Slice(HeaderLength + length);
        return GrpcWebReadResult.Frame;
    }

    /// <summary>
    /// A unary request body, read whole: exactly one uncompressed data frame and nothing after it.
    /// Returns <see cref="GrpcWebFrameError.None"/> and the message bytes, or why the body is unusable.
    /// </summary>
    public static GrpcWebFrameError TryReadUnaryRequest(ReadOnlySequence<byte> body, int maxMessageBytes, out ReadOnlySequence<byte> message)
    {
        message = default;
        if (body.IsEmpty)
            return GrpcWebFrameError.MissingMessage;
        switch (TryReadFrame(ref body, maxMessageBytes, out GrpcWebFrame frame, out GrpcWebFrameError error))
        {
            case GrpcWebReadResult.Incomplete:
                return GrpcWebFrameError.Truncated;
            case GrpcWebReadResult.Invalid:
                return error;
        }

        if (frame.IsTrailer)
            return GrpcWebFrameError.UnexpectedTrailer;
        if (!body.IsEmpty)
            return GrpcWebFrameError.TrailingData;
        message = frame.Payload;
        return GrpcWebFrameError.None;
    }

    /// <summary>The status a server answers a bad request body with, as grpc-dotnet's server does.</summary>
    public static StatusCode ToStatus(GrpcWebFrameError error) => error switch
    {
        GrpcWebFrameError.None => StatusCode.OK,
        GrpcWebFrameError.Compressed => StatusCode.Unimplemented,
        GrpcWebFrameError.TooLarge => StatusCode.ResourceExhausted,
        GrpcWebFrameError.ReservedFlags or GrpcWebFrameError.UnexpectedTrailer => StatusCode.InvalidArgument,
        _ => StatusCode.Internal,
    };

    /// <summary>One line for the grpc-message trailer: what was wrong and what the client should do.</summary>
    public static string Describe(GrpcWebFrameError error) => error switch
    {
        GrpcWebFrameError.None => "",
        GrpcWebFrameError.Truncated => "the request body ends inside a gRPC-Web frame; send the whole message",
        GrpcWebFrameError.Compressed => "compressed messages are not supported; send them uncompressed (no grpc-encoding)",
        GrpcWebFrameError.TooLarge => $"the request message is over the {MaxMessageBytes} byte limit; send a smaller one",
        GrpcWebFrameError.ReservedFlags => "the frame's flag byte has reserved bits set; send 0x00 for a message",
        GrpcWebFrameError.UnexpectedTrailer => "the request holds a trailer frame; a request carries only its message",
        GrpcWebFrameError.MissingMessage => "the request body is empty; a unary call sends exactly one message",
        GrpcWebFrameError.TrailingData => "the request body holds more after its message; a unary call sends exactly one",
        _ => error.ToString(),
    };

    /// <summary>Writes one uncompressed data frame holding <paramref name="message"/>.</summary>
    public static void WriteMessage(IBufferWriter<byte> writer, IMessage message)
    {
        int size = message.CalculateSize();
        Span<byte> span = writer.GetSpan(HeaderLength + size);
        span[0] = DataFlag;
        BinaryPrimitives.WriteUInt32BigEndian(span[1..], (uint)size);
        message.WriteTo(span.Slice(HeaderLength, size));
        writer.Advance(HeaderLength + size);
    }

    /// <summary>
    /// Writes the trailer frame that ends every response: grpc-status and, when given, grpc-message
    /// percent-encoded as the gRPC spec asks (bytes outside 0x20..0x7E, and '%', as %XX of their UTF-8).
    /// </summary>
    public static void WriteTrailer(IBufferWriter<byte> writer, StatusCode status, string? message = null)
    {
        // Built in a small array first because the frame's length comes before the text.
        var text = new ArrayBufferWriter<byte>(64);
        WriteAscii(text, "grpc-status: ");
        WriteAscii(text, ((int)status).ToString(CultureInfo.InvariantCulture));
        WriteAscii(text, "\r\n");
        if (!string.IsNullOrEmpty(message))
        {
            WriteAscii(text, "grpc-message: ");
            PercentEncode(text, message);
            WriteAscii(text, "\r\n");
        }

        Span<byte> span = writer.GetSpan(HeaderLength + text.WrittenCount);
        span[0] = TrailerFlag;
        BinaryPrimitives.WriteUInt32BigEndian(span[1..], (uint)text.WrittenCount);
        text.WrittenSpan.CopyTo(span[HeaderLength..]);
        writer.Advance(HeaderLength + text.WrittenCount);
    }

    /// <summary>
    /// Reads a trailer frame's payload: lines "name: value" separated by CRLF. Returns false when grpc-status
    /// is missing, not a number, or a line is malformed; unknown trailers are skipped.
    /// </summary>
    public static bool TryParseTrailer(ReadOnlySequence<byte> payload, out StatusCode status, out string message)
    {
        status = StatusCode.Unknown;
        message = "";
        if (payload.Length > MaxMessageBytes)
            return false;
        bool haveStatus = false;
        string text = Encoding.ASCII.GetString(payload.ToArray());
        foreach (string line in text.Split("\r\n"))
        {
            if (line.Length == 0)
                continue;
            int colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0)
                return false;
            string name = line[..colon].Trim();
            string value = line[(colon + 1)..].Trim();
            if (name.Equals("grpc-status", StringComparison.OrdinalIgnoreCase))
            {
                if (!int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int code) || code > 16)
                    return false;
                status = (StatusCode)code;
                haveStatus = true;
            }
            else if (name.Equals("grpc-message", StringComparison.OrdinalIgnoreCase))
            {
                message = PercentDecode(value);
            }
        }

        return haveStatus;
    }

    private static void PercentEncode(ArrayBufferWriter<byte> output, string message)
    {
        byte[] utf8 = Encoding.UTF8.GetBytes(message);
        foreach (byte b in utf8)
        {
            if (b is >= 0x20 and <= 0x7E and not (byte)'%')
            {
                output.GetSpan(1)[0] = b;
                output.Advance(1);
                continue;
            }

            Span<byte> escaped = output.GetSpan(3);
            escaped[0] = (byte)'%';
            escaped[1] = (byte)"0123456789ABCDEF"[b >> 4];
            escaped[2] = (byte)"0123456789ABCDEF"[b & 0xF];
            output.Advance(3);
        }
    }

    /// <summary>The spec says: a malformed escape is kept as it is, never an error.</summary>
    private static string PercentDecode(string value)
    {
        if (!value.Contains('%', StringComparison.Ordinal))
            return value;
        var bytes = new List<byte>(value.Length);
        for (int i = 0; i < value.Length; i++)
        {
            if (value[i] == '%' && i + 2 < value.Length
                && byte.TryParse(value.AsSpan(i + 1, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out byte b))
            {
                bytes.Add(b);
                i += 2;
                continue;
            }

            bytes.Add((byte)value[i]);
        }

        return Encoding.UTF8.GetString(bytes.ToArray());
    }

    private static void WriteAscii(ArrayBufferWriter<byte> output, string ascii)
    {
        int n = Encoding.ASCII.GetBytes(ascii, output.GetSpan(ascii.Length));
        output.Advance(n);
    }

    private static GrpcWebReadResult Fail(GrpcWebFrameError reason, out GrpcWebFrameError error)
    {
        error = reason;
        return GrpcWebReadResult.Invalid;
    }
}
