using System.Text;

namespace InfraMind.Node.Listener.Http;

/// <summary>The limits the parser applies to one request head (all in bytes, line lengths including CRLF).</summary>
public readonly record struct HeadLimits(int MaxRequestLine = 8 * 1024, int MaxHeaderCount = 64, int MaxHeaderBytes = 32 * 1024, int MaxHeaderLine = 8 * 1024)
{
    public HeadLimits()
        : this(8 * 1024)
    {
    }
}

/// <summary>One header field as offsets into <see cref="RequestHead"/>'s buffer.</summary>
public readonly record struct HeaderField(KnownHeader Known, int NameStart, int NameLength, int ValueStart, int ValueLength);

/// <summary>
/// A parsed request head. The parser copies the head's bytes into this object's own buffer (allocated once, sized
/// by the limits), so the fields stay valid after the transport buffer moves on, and one instance is reused for
/// every request of a connection: parsing allocates nothing.
/// </summary>
public sealed class RequestHead
{
    private readonly byte[] _buffer;
    private readonly HeaderField[] _headers;

    public RequestHead(HeadLimits limits)
    {
        Limits = limits;
        _buffer = new byte[limits.MaxRequestLine + limits.MaxHeaderBytes];
        _headers = new HeaderField[limits.MaxHeaderCount];
    }

    public HeadLimits Limits { get; }

    public RequestMethod Method { get; internal set; }

    /// <summary>True for HTTP/1.1, false for HTTP/1.0.</summary>
    public bool IsHttp11 { get; internal set; }

    /// <summary>-1 when the request has no Content-Length.</summary>
    public long ContentLength { get; internal set; } = -1;

    public bool IsChunked { get; internal set; }

    public bool ExpectContinue { get; internal set; }

    /// <summary>The request asked to close ("Connection: close").</summary>
    public bool ConnectionClose { get; internal set; }

    /// <summary>The request asked to keep the connection ("Connection: keep-alive"; needed for HTTP/1.0).</summary>
    public bool ConnectionKeepAlive { get; internal set; }

    /// <summary>Whether the connection may serve another request after this one, as far as the client is concerned.</summary>
    public bool KeepAlive => !ConnectionClose && (IsHttp11 || ConnectionKeepAlive);

    public bool HasBody => IsChunked || ContentLength > 0;

    /// <summary>The path, undecoded. Empty only for an absolute-form target without a path, which means "/".</summary>
    public ReadOnlySpan<byte> Path => PathLength == 0 ? "/"u8 : _buffer.AsSpan(PathStart, PathLength);

    /// <summary>The query without its '?', undecoded; empty when there is none.</summary>
    public ReadOnlySpan<byte> Query => _buffer.AsSpan(QueryStart, QueryLength);

    public int HeaderCount { get; internal set; }

    public ReadOnlySpan<HeaderField> Headers => _headers.AsSpan(0, HeaderCount);

    internal int PathStart { get; set; }

    internal int PathLength { get; set; }

    internal int QueryStart { get; set; }

    internal int QueryLength { get; set; }

    internal byte[] Buffer => _buffer;

    internal HeaderField[] HeaderStore => _headers;

    public ReadOnlySpan<byte> NameOf(in HeaderField field) => _buffer.AsSpan(field.NameStart, field.NameLength);

    public ReadOnlySpan<byte> ValueOf(in HeaderField field) => _buffer.AsSpan(field.ValueStart, field.ValueLength);

    /// <summary>The value of the first header of this kind; false when absent.</summary>
    public bool TryGetValue(KnownHeader known, out ReadOnlySpan<byte> value)
    {
        foreach (ref readonly HeaderField field in Headers)
        {
            if (field.Known == known)
            {
                value = ValueOf(field);
                return true;
            }
        }

        value = default;
        return false;
    }

    /// <summary>The value of the first header named <paramref name="name"/> (ASCII, any case); false when absent.</summary>
    public bool TryGetValue(ReadOnlySpan<byte> name, out ReadOnlySpan<byte> value)
    {
        foreach (ref readonly HeaderField field in Headers)
        {
            if (Ascii.EqualsIgnoreCase(NameOf(field), name))
            {
                value = ValueOf(field);
                return true;
            }
        }

        value = default;
        return false;
    }

    internal void Reset()
    {
        Method = default;
        IsHttp11 = false;
        ContentLength = -1;
        IsChunked = false;
        ExpectContinue = false;
        ConnectionClose = false;
        ConnectionKeepAlive = false;
        PathStart = PathLength = QueryStart = QueryLength = 0;
        HeaderCount = 0;
    }
}
