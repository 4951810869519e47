using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.Net;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace InfraMind.Node.Listener.Http;

/// <summary>
/// One request and its response. The request side reads the parsed head; the response is either buffered (status,
/// headers, body; sent with Content-Length when the handler returns) or streamed (<see cref="StartStreaming"/>, then
/// chunks). One instance per connection is reused for each request: do not keep it after the handler returns.
/// </summary>
[SuppressMessage("Design", "CA1001", Justification = "the Utf8JsonWriter writes into a managed buffer and holds nothing to release")]
public sealed class HttpExchange
{
    private readonly Http1Connection _connection;
    private readonly List<KeyValuePair<string, string>> _headers = [];
    private ArrayBufferWriter<byte> _body = new(4096);
    private Utf8JsonWriter? _json;
    private string? _path;
    private string? _contentType;

    internal HttpExchange(Http1Connection connection, RequestHead head)
    {
        _connection = connection;
        Head = head;
    }

    /// <summary>The parsed request head (spans over the head's bytes, no strings).</summary>
    public RequestHead Head { get; }

    public RequestMethod Method => Head.Method;

    /// <summary>The path as sent (no percent-decoding), e.g. "/v1/jobs/a6b4".</summary>
    public string Path => _path ??= Encoding.ASCII.GetString(Head.Path);

    public ReadOnlySpan<byte> PathBytes => Head.Path;

    public string? ContentType => Head.TryGetValue(KnownHeader.ContentType, out ReadOnlySpan<byte> v) ? Encoding.Latin1.GetString(v) : null;

    public string? Accept => Head.TryGetValue(KnownHeader.Accept, out ReadOnlySpan<byte> v) ? Encoding.Latin1.GetString(v) : null;

    /// <summary>Null when the request has no Content-Length (no body, or chunked).</summary>
    public long? ContentLength => Head.ContentLength >= 0 ? Head.ContentLength : null;

    public bool HasBody => Head.HasBody;

    public EndPoint? RemoteEndPoint => _connection.RemoteEndPoint;

    public bool IsUnixSocket => _connection.IsUnixSocket;

    /// <summary>True once the response head went out (streaming started); status and headers can no longer change.</summary>
    public bool ResponseStarted { get; private set; }

    public bool IsStreaming { get; private set; }

    public int StatusCode { get; private set; } = 200;

    internal IReadOnlyList<KeyValuePair<string, string>> ResponseHeaders => _headers;

    internal string? ResponseContentType => _contentType;

    internal ReadOnlySpan<byte> BufferedBody => _body.WrittenSpan;

    /// <summary>The first header named <paramref name="name"/> (any case), as Latin-1 text.</summary>
    public bool TryGetHeader(string name, [NotNullWhen(true)] out string? value)
    {
        foreach (ref readonly HeaderField field in Head.Headers)
        {
            if (Ascii.EqualsIgnoreCase(Head.NameOf(field), name))
            {
                value = Encoding.Latin1.GetString(Head.ValueOf(field));
                return true;
            }
        }

        value = null;
        return false;
    }

    /// <summary>The first query parameter named <paramref name="name"/>, percent- and '+'-decoded.</summary>
    public bool TryGetQuery(string name, [NotNullWhen(true)] out string? value)
    {
        ReadOnlySpan<byte> query = Head.Query;
        foreach (Range range in query.Split((byte)'&'))
        {
            ReadOnlySpan<byte> pair = query[range];
            int equals = pair.IndexOf((byte)'=');
            ReadOnlySpan<byte> key = equals < 0 ? pair : pair[..equals];
            if (!Ascii.Equals(key, name))
                continue;
            ReadOnlySpan<byte> raw = equals < 0 ? default : pair[(equals + 1)..];
            value = Uri.UnescapeDataString(Encoding.ASCII.GetString(raw).Replace('+', ' '));
            return true;
        }

        value = null;
        return false;
    }

    /// <summary>
    /// Reads the whole request body (Content-Length or chunked). Sends "100 Continue" first when the client asked.
    /// A body over <paramref name="limit"/> (default: the server's MaxRequestBodyBytes) throws
    /// <see cref="HttpRequestRejectedException"/>, which the server answers with 413 unless the handler catches it.
    /// </summary>
    public ValueTask<byte[]> ReadBodyAsync(long? limit = null, CancellationToken ct = default) =>
        _connection.ReadBodyAsync(limit ?? _connection.Options.MaxRequestBodyBytes, ct);

    public void SetStatus(int status)
    {
        if (status is < 200 or > 999)
            ThrowHelper.ThrowArgument(nameof(status), $"status {status} is not a final response code; use 200-999");
        EnsureNotStarted();
        StatusCode = status;
    }

    /// <summary>Adds a response header. Content-Length, Transfer-Encoding, Connection and Date are the server's.</summary>
    public void SetHeader(string name, string value)
    {
        if (!Http1Writer.IsValidHeaderName(name))
            ThrowHelper.ThrowArgument(nameof(name), $"'{name}' is not a valid header name; use letters, digits and '-'");
        if (!Http1Writer.IsValidHeaderValue(value))
            ThrowHelper.ThrowArgument(nameof(value), $"the value of {name} holds a control or non-ASCII character; send printable ASCII");
        if (name.Equals("Content-Type", StringComparison.OrdinalIgnoreCase))
        {
            SetContentType(value);
            return;
        }

        if (name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase) || name.Equals("Transfer-Encoding", StringComparison.OrdinalIgnoreCase)
            || name.Equals("Connection", StringComparison.OrdinalIgnoreCase) || name.Equals("Date", StringComparison.OrdinalIgnoreCase))
            ThrowHelper.ThrowArgument(nameof(name), $"{name} is set by the server; leave it out");
        EnsureNotStarted();
        _headers.Add(new(name, value));
    }

    public void SetContentType(string contentType)
    {
        if (!Http1Writer.IsValidHeaderValue(contentType))
            ThrowHelper.ThrowArgument(nameof(contentType), "the content type holds a control or non-ASCII character; send printable ASCII");
        EnsureNotStarted();
        _contentType = contentType;
    }

    /// <summary>The buffered response body, e.g. for a <see cref="Utf8JsonWriter"/>.</summary>
    public IBufferWriter<byte> Body
    {
        get
        {
            EnsureBuffered();
            return _body;
        }
    }

    public void Write(ReadOnlySpan<byte> bytes)
    {
        EnsureBuffered();
        _body.Write(bytes);
    }

    /// <summary>Serialises <paramref name="value"/> into the body through source-generated metadata; sets the JSON content type.</summary>
    public void WriteJson<T>(T value, JsonTypeInfo<T> typeInfo)
    {
        EnsureBuffered();
        _contentType ??= "application/json";
        Utf8JsonWriter json = JsonWriter();
        JsonSerializer.Serialize(json, value, typeInfo);
        json.Flush();
    }

    /// <summary>Sets the status and a body {"error": code, "message": message}, the house error format.</summary>
    public void WriteError(int status, string code, string message)
    {
        SetStatus(status);
        _contentType = "application/json";
        _body.ResetWrittenCount();
        _body.Write(Http1Writer.ErrorBody(code, message));
    }

    /// <summary>
    /// Sends the status and headers now and switches to a chunked streamed response; follow with
    /// <see cref="WriteAsync"/>/<see cref="FlushAsync"/>. The stream ends when the handler returns.
    /// </summary>
    public void StartStreaming(string contentType)
    {
        EnsureNotStarted();
        if (_body.WrittenCount > 0)
            ThrowHelper.ThrowArgument(nameof(contentType), "a body was already buffered; stream from the start or do not stream");
        SetContentType(contentType);
        IsStreaming = true;
        ResponseStarted = true;
        _connection.WriteStreamingHead(this);
    }

    /// <summary>Writes one chunk (buffered; flushed when large or by <see cref="FlushAsync"/>).</summary>
    public ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken ct = default)
    {
        if (!IsStreaming)
            ThrowHelper.ThrowArgument(nameof(data), "WriteAsync is for streamed responses; call StartStreaming first or use Write");
        return _connection.WriteChunkAsync(data, ct);
    }

    public ValueTask FlushAsync(CancellationToken ct = default)
    {
        if (!IsStreaming)
            ThrowHelper.ThrowArgument(nameof(ct), "FlushAsync is for streamed responses; call StartStreaming first");
        return _connection.FlushStreamAsync(ct);
    }

    internal void Reset()
    {
        _headers.Clear();
        // Do not keep a large response buffer pinned to an idle keep-alive connection.
        if (_body.Capacity > 256 * 1024)
            _body = new ArrayBufferWriter<byte>(4096);
        else
            _body.ResetWrittenCount();
        _path = null;
        _contentType = null;
        StatusCode = 200;
        ResponseStarted = false;
        IsStreaming = false;
    }

    /// <summary>Turns the buffered response into a 500/4xx error if nothing went out yet.</summary>
    internal void ReplaceWithError(int status, string code, string message)
    {
        _headers.Clear();
        StatusCode = status;
        _contentType = "application/json";
        _body.ResetWrittenCount();
        _body.Write(Http1Writer.ErrorBody(code, message));
    }

    private Utf8JsonWriter JsonWriter()
    {
        if (_json is null)
            _json = new Utf8JsonWriter(_body, new JsonWriterOptions { Encoder = Http1Writer.JsonEncoder, SkipValidation = true });
        else
            _json.Reset(_body);
        return _json;
    }

    private void EnsureNotStarted()
    {
        if (ResponseStarted)
            ThrowHelper.ThrowArgument("response", "the response already started streaming; set status and headers before StartStreaming");
    }

    private void EnsureBuffered()
    {
        if (IsStreaming)
            ThrowHelper.ThrowArgument("response", "the response is streaming; use WriteAsync instead of the buffered body");
    }
}
