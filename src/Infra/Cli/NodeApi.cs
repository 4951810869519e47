using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;

namespace InfraMind.Node.Cli;

/// <summary>
/// The CLI's client for a node's public REST port (CONTRACT.md §4): one request at a time, bodies read whole
/// (bounded), failures to connect turned into one line that names the address and the fix.
/// </summary>
internal sealed class NodeApi : IDisposable
{
    /// <summary>The most a CLI reads of one answer: a job with a large output, or a batch of many receipts.</summary>
    public const int MaxResponseBytes = 16 << 20;

    private readonly HttpClient _http;
    private readonly string _command;

    private NodeApi(Uri baseUrl, string command, TimeSpan timeout)
    {
        BaseUrl = baseUrl;
        _command = command;
        _http = new HttpClient(new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(5), AutomaticDecompression = DecompressionMethods.None })
        {
            BaseAddress = baseUrl,
            Timeout = timeout,
            MaxResponseContentBufferSize = MaxResponseBytes,
        };
    }

    public Uri BaseUrl { get; }

    /// <summary>A client for <paramref name="url"/> (http:// or https://); a bad URL is a usage error of <paramref name="command"/>.</summary>
    public static NodeApi Create(string url, string command, TimeSpan? timeout = null)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out Uri? parsed) || parsed.Scheme is not ("http" or "https") || parsed.Query.Length > 0)
            ThrowHelper.ThrowUsage($"{command}: --url '{url}' is not a node address; write it as http://HOST:PORT (e.g. http://127.0.0.1:9000)");
        if (!parsed.AbsolutePath.EndsWith('/'))
            parsed = new Uri(parsed + "/");
        return new NodeApi(parsed, command, timeout ?? TimeSpan.FromSeconds(30));
    }

    /// <summary>The public URL of the node a config describes: listener.bind (0.0.0.0 and :: mean this host) and listener.port.</summary>
    public static string UrlOf(Configuration.NodeConfig config)
    {
        string host = config.Listener.Bind switch
        {
            "0.0.0.0" => "127.0.0.1",
            "::" => "[::1]",
            var b when b.Contains(':', StringComparison.Ordinal) => $"[{b}]",
            var b => b,
        };
        return string.Create(CultureInfo.InvariantCulture, $"http://{host}:{config.Listener.Port}");
    }

    public Task<Answer> GetAsync(string path, CancellationToken cancellationToken) =>
        SendAsync(new HttpRequestMessage(HttpMethod.Get, path), cancellationToken);

    public Task<Answer> PostJsonAsync(string path, byte[] json, CancellationToken cancellationToken)
    {
        var content = new ByteArrayContent(json);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        return SendAsync(new HttpRequestMessage(HttpMethod.Post, path) { Content = content }, cancellationToken);
    }

    private async Task<Answer> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        using (request)
        {
            try
            {
                using HttpResponseMessage response = await _http.SendAsync(request, cancellationToken).ConfigureAwait(false);
                byte[] body = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
                return new Answer((int)response.StatusCode, body);
            }
            catch (HttpRequestException e)
            {
                ThrowHelper.ThrowRuntime($"{_command}: cannot reach the node at {BaseUrl} ({FirstLine(e.Message)}); start it with `infra run`, or point --url at it", e);
                throw;
            }
            catch (TaskCanceledException e) when (!cancellationToken.IsCancellationRequested)
            {
                ThrowHelper.ThrowRuntime($"{_command}: the node at {BaseUrl} did not answer {request.Method} /{request.RequestUri} within {_http.Timeout.TotalSeconds:0} s; check it with `infra status`", e);
                throw;
            }
        }
    }

    public void Dispose() => _http.Dispose();

    private static string FirstLine(string s)
    {
        int newline = s.IndexOfAny(['\r', '\n']);
        return newline < 0 ? s : s[..newline];
    }

    /// <summary>An HTTP answer: its status and whole body.</summary>
    internal readonly record struct Answer(int Status, byte[] Body)
    {
        public bool Ok => Status is >= 200 and < 300;

        /// <summary>"409 duplicate_job: job 'x' was already accepted": the contract's error body as one line.</summary>
        public string Describe()
        {
            NodeView view = NodeView.Parse(Body);
            string code = view.Error ?? "no error code";
            string message = view.Message ?? (view.IsJson ? "(no message)" : "(the answer is not JSON: is --url a node?)");
            return string.Create(CultureInfo.InvariantCulture, $"{Status} {code}: {message}");
        }
    }
}

/// <summary>Prepare progress as GET /v1/jobs/{id} reports it.</summary>
internal sealed record ProgressView(string Phase, long Bytes, long? TotalBytes, long Blocks, double BytesPerSecond);

/// <summary>
/// The members of a node's JSON answers that the CLI reads: a job (state, message, reason, progress), an error
/// (error, message), /v1/status (node_id). Read with <see cref="Utf8JsonReader"/>, unknown members skipped,
/// anything malformed gives <see cref="IsJson"/> false instead of an exception.
/// </summary>
internal sealed record NodeView(bool IsJson, string? JobId, string? State, string? Message, string? Reason, string? Error, string? NodeId, ProgressView? Progress)
{
    private static readonly NodeView NotJson = new(false, null, null, null, null, null, null, null);

    public static NodeView Parse(ReadOnlySpan<byte> json)
    {
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 64 });
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
                return NotJson;
            string? jobId = null, state = null, message = null, reason = null, error = null, nodeId = null;
            ProgressView? progress = null;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                string name = reader.GetString()!;
                reader.Read();
                switch (name)
                {
                    case "job_id": jobId = Text(ref reader); break;
                    case "state": state = Text(ref reader); break;
                    case "message": message = Text(ref reader); break;
                    case "reason": reason = Text(ref reader); break;
                    case "error": error = Text(ref reader); break;
                    case "node_id": nodeId = Text(ref reader); break;
                    case "progress": progress = ReadProgress(ref reader); break;
                    default: reader.Skip(); break;
                }
            }

            // The whole document must be well-formed: read to its end so a truncated answer is not taken as one.
            while (reader.Read())
            {
            }

            return new NodeView(true, jobId, state, message, reason, error, nodeId, progress);
        }
        catch (JsonException)
        {
            return NotJson;
        }
        catch (InvalidOperationException)
        {
            return NotJson; // a string that is not valid UTF-8
        }
    }

    private static string? Text(ref Utf8JsonReader reader)
    {
        if (reader.TokenType == JsonTokenType.String)
            return reader.GetString();
        reader.Skip();
        return null;
    }

    private static ProgressView? ReadProgress(ref Utf8JsonReader reader)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            reader.Skip();
            return null;
        }

        string phase = "";
        long bytes = 0, blocks = 0;
        long? total = null;
        double rate = 0;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            string name = reader.GetString()!;
            reader.Read();
            switch (name)
            {
                case "phase" when reader.TokenType == JsonTokenType.String: phase = reader.GetString()!; break;
                case "bytes" when reader.TokenType == JsonTokenType.Number: reader.TryGetInt64(out bytes); break;
                case "total_bytes" when reader.TokenType == JsonTokenType.Number: total = reader.TryGetInt64(out long t) ? t : null; break;
                case "blocks" when reader.TokenType == JsonTokenType.Number: reader.TryGetInt64(out blocks); break;
                case "bytes_per_second" when reader.TokenType == JsonTokenType.Number: reader.TryGetDouble(out rate); break;
                default: reader.Skip(); break;
            }
        }

        return new ProgressView(phase, bytes, total, blocks, rate);
    }
}
