using System.Buffers;
using System.Collections.Concurrent;
using System.Globalization;
using System.IO.Pipelines;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace InfraMind.Node.Containers.Engine;

/// <summary>Which engine answers on the socket.</summary>
public enum EngineKind
{
    Docker,
    Podman,
}

/// <summary>
/// A client of the Docker Engine API (and Podman's compatible API) over a Unix socket: its own small
/// HTTP/1.1 client on System.IO.Pipelines, keep-alive connections reused from a pool, JSON through the
/// source-generated <see cref="EngineJson"/> context only.
/// </summary>
public sealed class EngineClient : IAsyncDisposable
{
    /// <summary>The oldest API the node speaks: Docker 20.10, and Podman 4's compatible API.</summary>
    public static readonly Version MinimumApiVersion = new(1, 41);

    /// <summary>The newest API the node asks for; newer engines still serve it.</summary>
    public static readonly Version MaximumApiVersion = new(1, 43);

    private const int MaxPooledConnections = 8;
    private const long MaxJsonAnswerBytes = 8 << 20;

    private readonly ConcurrentStack<HttpConnection> _idle = new();
    private readonly TimeSpan _requestTimeout;
    private string _prefix = string.Empty;

    private EngineClient(string socketPath, TimeSpan requestTimeout)
    {
        SocketPath = socketPath;
        _requestTimeout = requestTimeout;
    }

    public string SocketPath { get; }

    public EngineKind Kind { get; private set; }

    /// <summary>The engine's own version, e.g. 20.10.24 or 4.3.1.</summary>
    public string EngineVersion { get; private set; } = string.Empty;

    /// <summary>The API version used on every request, e.g. 1.41.</summary>
    public Version ApiVersion { get; private set; } = MinimumApiVersion;

    /// <summary>Connects, asks /version and settles the API version both sides speak.</summary>
    public static async Task<EngineClient> ConnectAsync(string socketPath, CancellationToken cancellationToken, TimeSpan? requestTimeout = null)
    {
        var client = new EngineClient(socketPath, requestTimeout ?? TimeSpan.FromSeconds(30));
        try
        {
            VersionResponse version = await client.VersionAsync(cancellationToken).ConfigureAwait(false);
            if (!Version.TryParse(version.ApiVersion, out Version? api))
                throw new EngineException(EngineError.Protocol, $"the engine at {socketPath} reports no usable API version ('{version.ApiVersion}')");
            if (api < MinimumApiVersion)
            {
                throw new EngineException(EngineError.UnsupportedVersion,
                    $"the engine at {socketPath} speaks API {api}, older than {MinimumApiVersion}; fix: upgrade to Docker 20.10+ or Podman 4+");
            }

            client.ApiVersion = api < MaximumApiVersion ? api : MaximumApiVersion;
            client._prefix = $"/v{client.ApiVersion.Major}.{client.ApiVersion.Minor}";
            client.EngineVersion = version.Version ?? string.Empty;
            client.Kind = version.Components?.Any(c => c.Name?.Contains("Podman", StringComparison.OrdinalIgnoreCase) == true) == true
                ? EngineKind.Podman
                : EngineKind.Docker;
            return client;
        }
        catch
        {
            await client.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    public async Task PingAsync(CancellationToken cancellationToken)
    {
        (int status, byte[] body) = await SendAsync("GET", "/_ping", null, versioned: false, cancellationToken).ConfigureAwait(false);
        if (status != 200 || !body.AsSpan().SequenceEqual("OK"u8))
            throw new EngineException(EngineError.Protocol, $"the engine answered its ping with {status} '{Encoding.UTF8.GetString(body)}'", status);
    }

    public Task<VersionResponse> VersionAsync(CancellationToken cancellationToken) =>
        GetJsonAsync("/version", EngineJson.Default.VersionResponse, cancellationToken, versioned: false);

    public Task<InfoResponse> InfoAsync(CancellationToken cancellationToken) =>
        GetJsonAsync("/info", EngineJson.Default.InfoResponse, cancellationToken);

    /// <summary>The image's inspect answer, or null when the engine does not have it.</summary>
    public async Task<ImageInspectResponse?> InspectImageAsync(string image, CancellationToken cancellationToken)
    {
        try
        {
            return await GetJsonAsync($"/images/{Escape(image)}/json", EngineJson.Default.ImageInspectResponse, cancellationToken).ConfigureAwait(false);
        }
        catch (EngineException e) when (e.Status == 404)
        {
            return null;
        }
    }

    /// <summary>
    /// Streams an image archive (docker-save, or OCI layout with manifest.json; gzip or not) into the engine.
    /// The engine answers 200 even when the load fails, so every message of its stream is checked for an
    /// error. Returns what the engine reported loading ("Loaded image: …" / "Loaded image ID: …").
    /// </summary>
    public async Task<IReadOnlyList<string>> LoadImageAsync(string archivePath, IProgress<long>? progress, CancellationToken cancellationToken)
    {
        var loaded = new List<string>();
        string? failure = null;
        var splitter = new JsonMessageSplitter();
        await using HttpConnection connection = await HttpConnection.ConnectAsync(SocketPath, cancellationToken).ConfigureAwait(false);
        await using (var file = new FileStream(archivePath, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 0, useAsync: true))
        {
            RequestWriter.WriteHead(connection.Writer, "POST", $"{_prefix}/images/load?quiet=1", file.Length, "application/x-tar");
            long sent = 0;
            while (true)
            {
                Memory<byte> memory = connection.Writer.GetMemory(64 * 1024);
                int read = await file.ReadAsync(memory, cancellationToken).ConfigureAwait(false);
                if (read == 0)
                    break;
                connection.Writer.Advance(read);
                sent += read;
                progress?.Report(sent);
                FlushResult flushed = await connection.Writer.FlushAsync(cancellationToken).ConfigureAwait(false);
                if (flushed.IsCompleted)
                    break;
            }

            await connection.Writer.FlushAsync(cancellationToken).ConfigureAwait(false);
        }

        HttpResponseHead head = await connection.ReadHeadAsync(cancellationToken).ConfigureAwait(false);
        if (head.Status != 200)
        {
            byte[] body = await ReadWholeBodyAsync(connection, head, cancellationToken).ConfigureAwait(false);
            throw Failure(head.Status, body, $"loading {archivePath}");
        }

        await connection.ReadBodyAsync(head, piece => splitter.Feed(piece, message =>
        {
            string? error = message.Error ?? message.ErrorDetail?.Message;
            if (error is not null)
                failure ??= error;
            else if (message.Stream?.Trim() is { Length: > 0 } line)
                loaded.Add(line);
        }), MaxJsonAnswerBytes, cancellationToken).ConfigureAwait(false);

        if (failure is not null)
            throw new EngineException(EngineError.ServerError, $"the engine could not load {archivePath}: {failure}", head.Status);
        if (!splitter.IsEmpty)
            throw new EngineException(EngineError.Protocol, "the engine's image-load answer ended in the middle of a message");
        return loaded;
    }

    public async Task<string> CreateContainerAsync(string name, ContainerCreateRequest request, CancellationToken cancellationToken)
    {
        byte[] json = JsonSerializer.SerializeToUtf8Bytes(request, EngineJson.Default.ContainerCreateRequest);
        (int status, byte[] body) = await SendAsync("POST", $"/containers/create?name={Escape(name)}", json, versioned: true, cancellationToken).ConfigureAwait(false);
        if (status != 201)
            throw Failure(status, body, $"creating container {name}", request.Image);
        ContainerCreateResponse? created = Parse(body, EngineJson.Default.ContainerCreateResponse);
        return created?.Id ?? throw new EngineException(EngineError.Protocol, "the engine created a container but sent no id");
    }

    public Task StartContainerAsync(string id, CancellationToken cancellationToken) =>
        ExpectAsync("POST", $"/containers/{Escape(id)}/start", [204, 304], $"starting container {id}", cancellationToken);

    /// <summary>Sends a signal (default SIGKILL). A container that is no longer running is not an error.</summary>
    public async Task KillContainerAsync(string id, string signal, CancellationToken cancellationToken)
    {
        (int status, byte[] body) = await SendAsync("POST", $"/containers/{Escape(id)}/kill?signal={Escape(signal)}", null, versioned: true, cancellationToken).ConfigureAwait(false);
        if (status is 204 or 409 or 304)
            return;
        if (status == 500 && Encoding.UTF8.GetString(body).Contains("not running", StringComparison.OrdinalIgnoreCase))
            return;
        throw Failure(status, body, $"killing container {id}");
    }

    /// <summary>Removes a container (forcibly, with its anonymous volumes). A missing one is not an error.</summary>
    public async Task RemoveContainerAsync(string id, CancellationToken cancellationToken)
    {
        (int status, byte[] body) = await SendAsync("DELETE", $"/containers/{Escape(id)}?force=1&v=1", null, versioned: true, cancellationToken).ConfigureAwait(false);
        if (status is 204 or 404)
            return;
        if (status == 409 && Encoding.UTF8.GetString(body).Contains("already in progress", StringComparison.OrdinalIgnoreCase))
            return;
        throw Failure(status, body, $"removing container {id}");
    }

    public async Task<ContainerInspectResponse> InspectContainerAsync(string id, CancellationToken cancellationToken)
    {
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                return await GetJsonAsync($"/containers/{Escape(id)}/json", EngineJson.Default.ContainerInspectResponse, cancellationToken).ConfigureAwait(false);
            }
            catch (EngineException e) when (attempt < 5 && e.Status == 500 && e.Message.Contains("no such process", StringComparison.Ordinal))
            {
                // Podman 4 fails an inspect that races with the container's exit (it reads /proc/PID/cgroup
                // of a process that just went); asked again a moment later it answers with the exited state.
                await Task.Delay(20 * (attempt + 1), cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Containers (running or not) carrying the label <paramref name="label"/> (with <paramref name="value"/> if given).</summary>
    public async Task<List<ContainerSummary>> ListContainersAsync(string label, string? value, CancellationToken cancellationToken)
    {
        var filters = new Dictionary<string, List<string>> { ["label"] = [value is null ? label : $"{label}={value}"] };
        string query = Escape(JsonSerializer.Serialize(filters, EngineJson.Default.DictionaryStringListString));
        return await GetJsonAsync($"/containers/json?all=1&filters={query}", EngineJson.Default.ListContainerSummary, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Waits for the container to stop and returns its exit code. No timeout: the caller's token bounds it.</summary>
    public async Task<long> WaitContainerAsync(string id, CancellationToken cancellationToken)
    {
        // Podman's Docker-compatible wait polls every 250 ms; its own libpod wait takes the interval, which
        // saves most of that on every short job.
        string target = Kind == EngineKind.Podman
            ? $"/v4.0.0/libpod/containers/{Escape(id)}/wait?condition=stopped&condition=exited&interval=10ms"
            : $"{_prefix}/containers/{Escape(id)}/wait?condition=not-running";
        await using HttpConnection connection = await HttpConnection.ConnectAsync(SocketPath, cancellationToken).ConfigureAwait(false);
        RequestWriter.WriteHead(connection.Writer, "POST", target, 0, null);
        await connection.Writer.FlushAsync(cancellationToken).ConfigureAwait(false);
        HttpResponseHead head = await connection.ReadHeadAsync(cancellationToken).ConfigureAwait(false);
        byte[] body = await ReadWholeBodyAsync(connection, head, cancellationToken).ConfigureAwait(false);
        if (head.Status != 200)
            throw Failure(head.Status, body, $"waiting for container {id}");
        if (Kind == EngineKind.Podman)
        {
            // libpod answers the bare exit code: "3".
            return long.TryParse(Encoding.ASCII.GetString(body).Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long code)
                ? code
                : throw new EngineException(EngineError.Protocol, $"Podman's wait answer is not an exit code: '{Encoding.ASCII.GetString(body.AsSpan(0, Math.Min(body.Length, 64)))}'");
        }

        ContainerWaitResponse? wait = Parse(body, EngineJson.Default.ContainerWaitResponse);
        if (wait?.Error?.Message is { Length: > 0 } error)
            throw new EngineException(EngineError.ServerError, $"waiting for container {id}: {error}", head.Status);
        return wait?.StatusCode ?? throw new EngineException(EngineError.Protocol, "the engine's wait answer has no status code");
    }

    /// <summary>
    /// Attaches to a created container's stdin, stdout and stderr. Attach before start, so no output is missed.
    /// The connection is upgraded to a raw stream owned by the returned <see cref="ContainerAttachment"/>.
    /// </summary>
    public async Task<ContainerAttachment> AttachAsync(string id, CancellationToken cancellationToken)
    {
        HttpConnection connection = await HttpConnection.ConnectAsync(SocketPath, cancellationToken).ConfigureAwait(false);
        try
        {
            RequestWriter.WriteHead(connection.Writer, "POST", $"{_prefix}/containers/{Escape(id)}/attach?stream=1&stdin=1&stdout=1&stderr=1", 0, null, upgrade: true);
            await connection.Writer.FlushAsync(cancellationToken).ConfigureAwait(false);
            HttpResponseHead head = await connection.ReadHeadAsync(cancellationToken).ConfigureAwait(false);
            if (head.Status is not (101 or 200))
            {
                byte[] body = await ReadWholeBodyAsync(connection, head, cancellationToken).ConfigureAwait(false);
                throw Failure(head.Status, body, $"attaching to container {id}");
            }

            return new ContainerAttachment(connection);
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>The container's logs so far (stdout and stderr, demultiplexed), each capped at <paramref name="maxBytes"/>.</summary>
    public async Task<(byte[] Stdout, byte[] Stderr)> LogsAsync(string id, int maxBytes, CancellationToken cancellationToken)
    {
        await using HttpConnection connection = await HttpConnection.ConnectAsync(SocketPath, cancellationToken).ConfigureAwait(false);
        RequestWriter.WriteHead(connection.Writer, "GET", $"{_prefix}/containers/{Escape(id)}/logs?stdout=1&stderr=1", null, null);
        await connection.Writer.FlushAsync(cancellationToken).ConfigureAwait(false);
        HttpResponseHead head = await connection.ReadHeadAsync(cancellationToken).ConfigureAwait(false);
        if (head.Status != 200)
        {
            byte[] error = await ReadWholeBodyAsync(connection, head, cancellationToken).ConfigureAwait(false);
            throw Failure(head.Status, error, $"reading the logs of container {id}");
        }

        var stdout = new CappedBuffer(maxBytes);
        var stderr = new CappedBuffer(maxBytes);
        var demuxer = new OutputDemuxer();
        var sink = new CappedOutputSink(stdout, stderr);
        await connection.ReadBodyAsync(head, piece => demuxer.Feed(piece, sink), long.MaxValue, cancellationToken).ConfigureAwait(false);
        return (stdout.ToArray(), stderr.ToArray());
    }

    /// <summary>
    /// Streams engine events matching <paramref name="filters"/> (e.g. type=container, label=inframind.node=…)
    /// to <paramref name="onEvent"/> until cancelled. An error inside the stream is thrown as an error.
    /// </summary>
    public async Task StreamEventsAsync(Dictionary<string, List<string>> filters, Action<EngineMessage> onEvent, CancellationToken cancellationToken)
    {
        await using HttpConnection connection = await HttpConnection.ConnectAsync(SocketPath, cancellationToken).ConfigureAwait(false);
        string query = Escape(JsonSerializer.Serialize(filters, EngineJson.Default.DictionaryStringListString));
        RequestWriter.WriteHead(connection.Writer, "GET", $"{_prefix}/events?filters={query}", null, null);
        await connection.Writer.FlushAsync(cancellationToken).ConfigureAwait(false);
        HttpResponseHead head = await connection.ReadHeadAsync(cancellationToken).ConfigureAwait(false);
        if (head.Status != 200)
        {
            byte[] body = await ReadWholeBodyAsync(connection, head, cancellationToken).ConfigureAwait(false);
            throw Failure(head.Status, body, "subscribing to engine events");
        }

        var splitter = new JsonMessageSplitter();
        try
        {
            await connection.ReadBodyAsync(head, piece => splitter.Feed(piece, message =>
            {
                if ((message.Error ?? message.ErrorDetail?.Message) is { } error)
                    throw new EngineException(EngineError.ServerError, $"the engine's event stream reported an error: {error}", head.Status);
                onEvent(message);
            }), long.MaxValue, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Cancelled by the caller: the normal way an event subscription ends.
        }
    }

    public async ValueTask DisposeAsync()
    {
        while (_idle.TryPop(out HttpConnection? connection))
            await connection.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>Escapes a value for a URL path segment or query value.</summary>
    internal static string Escape(string value) => Uri.EscapeDataString(value);

    private async Task<T> GetJsonAsync<T>(string path, JsonTypeInfo<T> type, CancellationToken cancellationToken, bool versioned = true)
    {
        (int status, byte[] body) = await SendAsync("GET", path, null, versioned, cancellationToken).ConfigureAwait(false);
        if (status != 200)
            throw Failure(status, body, $"GET {path}");
        return Parse(body, type) ?? throw new EngineException(EngineError.Protocol, $"the engine answered GET {path} with null");
    }

    private async Task ExpectAsync(string method, string path, int[] expected, string what, CancellationToken cancellationToken)
    {
        (int status, byte[] body) = await SendAsync(method, path, null, versioned: true, cancellationToken).ConfigureAwait(false);
        if (Array.IndexOf(expected, status) < 0)
            throw Failure(status, body, what);
    }

    /// <summary>
    /// One request and its whole (size-capped) answer on a pooled keep-alive connection. A pooled connection
    /// the engine has meanwhile closed is noticed before any answer arrives, and the request goes once more
    /// on a fresh connection.
    /// </summary>
    private async Task<(int Status, byte[] Body)> SendAsync(string method, string path, byte[]? json, bool versioned, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_requestTimeout);
        string target = versioned ? _prefix + path : path;
        for (int attempt = 0; ; attempt++)
        {
            HttpConnection connection = await RentAsync(attempt > 0, timeout.Token).ConfigureAwait(false);
            bool keep = false;
            try
            {
                RequestWriter.WriteHead(connection.Writer, method, target, json?.Length ?? (method is "POST" or "PUT" ? 0 : null), json is null ? null : "application/json");
                if (json is not null)
                    connection.Writer.Write(json);
                await connection.Writer.FlushAsync(timeout.Token).ConfigureAwait(false);
                HttpResponseHead head = await connection.ReadHeadAsync(timeout.Token).ConfigureAwait(false);
                byte[] body = await ReadWholeBodyAsync(connection, head, timeout.Token).ConfigureAwait(false);
                keep = head.KeepAlive;
                return (head.Status, body);
            }
            catch (Exception e) when (connection.Reused && attempt == 0 && IsStale(e))
            {
                // The engine closed an idle pooled connection; retry on a new one.
            }
            catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
            {
                throw new EngineException(EngineError.Timeout, $"the engine did not answer {method} {path} within {_requestTimeout.TotalSeconds:0} s", inner: e);
            }
            catch (IOException e)
            {
                throw new EngineException(EngineError.Unreachable, $"the connection to the engine broke during {method} {path}: {e.Message}", inner: e);
            }
            finally
            {
                await ReturnAsync(connection, keep).ConfigureAwait(false);
            }
        }
    }

    private static bool IsStale(Exception e) =>
        e is IOException || (e is EngineException { Error: EngineError.Unreachable });

    private async ValueTask<HttpConnection> RentAsync(bool fresh, CancellationToken cancellationToken)
    {
        if (!fresh && _idle.TryPop(out HttpConnection? pooled))
        {
            pooled.Reused = true;
            return pooled;
        }

        return await HttpConnection.ConnectAsync(SocketPath, cancellationToken).ConfigureAwait(false);
    }

    private async ValueTask ReturnAsync(HttpConnection connection, bool keepAlive)
    {
        if (keepAlive && _idle.Count < MaxPooledConnections)
        {
            _idle.Push(connection);
            return;
        }

        await connection.DisposeAsync().ConfigureAwait(false);
    }

    private static ValueTask<byte[]> ReadWholeBodyAsync(HttpConnection connection, HttpResponseHead head, CancellationToken cancellationToken) =>
        connection.ReadBodyToArrayAsync(head, MaxJsonAnswerBytes, cancellationToken);

    private static T? Parse<T>(byte[] body, JsonTypeInfo<T> type)
    {
        try
        {
            return JsonSerializer.Deserialize(body, type);
        }
        catch (JsonException e)
        {
            throw new EngineException(EngineError.Protocol, $"the engine's answer is not the JSON expected ({type.Type.Name}): {e.Message}", inner: e);
        }
    }

    /// <summary>Turns a non-success answer into a typed error carrying the engine's own message.</summary>
    private static EngineException Failure(int status, byte[] body, string what, string? image = null)
    {
        string message = Encoding.UTF8.GetString(body.AsSpan(0, Math.Min(body.Length, 2048))).Trim();
        try
        {
            if (body.Length > 0 && body[0] == (byte)'{' && JsonSerializer.Deserialize(body, EngineJson.Default.ErrorResponse)?.Message is { } engineMessage)
                message = engineMessage;
        }
        catch (JsonException)
        {
            // Not JSON: keep the raw text.
        }

        bool imageMissing = status == 404 && image is not null && message.Contains("image", StringComparison.OrdinalIgnoreCase);
        EngineError error = status switch
        {
            404 when imageMissing => EngineError.ImageMissing,
            404 => EngineError.NotFound,
            409 => EngineError.Conflict,
            >= 400 and < 500 => EngineError.Rejected,
            _ => EngineError.ServerError,
        };
        return new EngineException(error, $"{what}: the engine answered {status.ToString(CultureInfo.InvariantCulture)}: {message}", status);
    }
}
