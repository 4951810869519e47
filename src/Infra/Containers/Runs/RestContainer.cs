using System.Buffers;
using System.Diagnostics;
using System.Net.Sockets;
using InfraMind.Node.Containers.Engine;
using InfraMind.Node.Containers.Sandbox;
using InfraMind.Node.Hardware;

namespace InfraMind.Node.Containers.Runs;

/// <summary>
/// A running `protocol: rest` model: a sandboxed container with no network, reached on its own loopback
/// through its network namespace. It serves POST /inference with {"input": …} and answers {"output": …}
/// (or {"result": …}). One keep-alive connection is held and reused, so a warm model costs one round trip.
/// </summary>
public sealed class RestContainer : IAsyncDisposable
{
    public const int MaxAnswerBytes = 16 << 20;

    private readonly SandboxLauncher _launcher;
    private readonly int _pid;
    private readonly int _port;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly CgroupUsageFiles? _usageFiles;
    private HttpConnection? _connection;

    private RestContainer(SandboxLauncher launcher, string id, string imageId, int pid, int port, ContainerCgroup? cgroup)
    {
        _launcher = launcher;
        Id = id;
        ImageId = imageId;
        _pid = pid;
        _port = port;
        Cgroup = cgroup;
        _usageFiles = cgroup is null ? null : CgroupUsageFiles.TryOpen(cgroup);
    }

    public string Id { get; }

    /// <summary>The image the engine ran ("sha256:…"), for the receipt.</summary>
    public string ImageId { get; }

    /// <summary>The container's cgroup, read and checked against the spec at start.</summary>
    public ContainerCgroup? Cgroup { get; }

    /// <summary>True when the cgroup's usage files are held open for the container's life (the warm job's reads).</summary>
    internal bool HoldsUsageFiles => _usageFiles is not null;

    /// <summary>CPU time the container has used so far, in microseconds; null without a cgroup.</summary>
    /// <exception cref="Errors.InfraException">(Runtime) a usage file is missing, unreadable or not in the kernel's format.</exception>
    /// <exception cref="IOException">The cgroup went away with the container.</exception>
    internal long? ReadCpuMicros() =>
        _usageFiles is { } files ? files.ReadCpuMicros() : Cgroup is { } cgroup ? CgroupLiveUsage.ReadCpuMicros(cgroup) : null;

    /// <summary>CPU time, peak memory and OOM kills so far, for the receipt; null without a cgroup.</summary>
    /// <exception cref="Errors.InfraException">(Runtime) a usage file is missing, unreadable or not in the kernel's format.</exception>
    /// <exception cref="IOException">The cgroup went away with the container.</exception>
    internal CgroupUsage? ReadUsage() => _usageFiles is { } files ? files.ReadUsage() : Cgroup?.ReadUsage();

    /// <summary>
    /// Creates and starts the container, proves its limits, then waits until its port accepts a connection
    /// (at most <paramref name="readyTimeout"/>). A container that exits or never listens is removed.
    /// </summary>
    public static async Task<RestContainer> StartAsync(SandboxLauncher launcher, SandboxSpec spec, int port, TimeSpan readyTimeout, CancellationToken cancellationToken)
    {
        EngineClient engine = launcher.Engine;
        ContainerCreateRequest request = spec.ToCreateRequest(stdin: false);
        string id = await launcher.CreateAsync(spec.ContainerName(request), request, cancellationToken).ConfigureAwait(false);
        RestContainer? container = null;
        try
        {
            await engine.StartContainerAsync(id, cancellationToken).ConfigureAwait(false);
            ContainerInspectResponse started = await engine.InspectContainerAsync(id, cancellationToken).ConfigureAwait(false);
            ContainerCgroup? cgroup = await launcher.VerifyLimitsAsync(spec, started, cancellationToken).ConfigureAwait(false);
            int pid = started.State?.Pid ?? 0;
            if (cgroup is null || pid <= 0)
                throw new SandboxException(RunFailure.NonZeroExit, $"rest model container {id} exited at start; its logs say: {await TailLogsAsync(engine, id).ConfigureAwait(false)}");

            container = new RestContainer(launcher, id, started.Image ?? string.Empty, pid, port, cgroup);
            await container.WaitUntilListeningAsync(readyTimeout, cancellationToken).ConfigureAwait(false);
            return container;
        }
        catch
        {
            container?._usageFiles?.Dispose();
            await launcher.RemoveQuietlyAsync(id).ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Sends one inference: <paramref name="inputJson"/> is the JSON value placed under "input". Returns the
    /// raw JSON text of the model's "output" (or "result").
    /// </summary>
    public Task<byte[]> InferAsync(ReadOnlyMemory<byte> inputJson, CancellationToken cancellationToken) =>
        PostInputAsync("/inference", inputJson, cancellationToken);

    /// <summary>POSTs {"input": …} to <paramref name="path"/> on the model's loopback port; the output member comes back.</summary>
    internal async Task<byte[]> PostInputAsync(string path, ReadOnlyMemory<byte> inputJson, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            for (int attempt = 0; ; attempt++)
            {
                HttpConnection connection = _connection ??= await ConnectAsync(cancellationToken).ConfigureAwait(false);
                try
                {
                    return await PostAsync(connection, path, inputJson, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception e) when (attempt == 0 && e is IOException or EngineException { Error: EngineError.Unreachable })
                {
                    // The model closed the idle connection: reconnect once.
                    await DropConnectionAsync().ConfigureAwait(false);
                }
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await DropConnectionAsync().ConfigureAwait(false);
        await _launcher.RemoveQuietlyAsync(Id).ConfigureAwait(false);
        _usageFiles?.Dispose();
        _gate.Dispose();
    }

    private async Task<byte[]> PostAsync(HttpConnection connection, string path, ReadOnlyMemory<byte> inputJson, CancellationToken cancellationToken)
    {
        int length = "{\"input\":"u8.Length + inputJson.Length + 1;
        RequestWriter.WriteHead(connection.Writer, "POST", path, length, "application/json", host: "model");
        connection.Writer.Write("{\"input\":"u8);
        connection.Writer.Write(inputJson.Span);
        connection.Writer.Write("}"u8);
        await connection.Writer.FlushAsync(cancellationToken).ConfigureAwait(false);

        HttpResponseHead head = await connection.ReadHeadAsync(cancellationToken).ConfigureAwait(false);
        byte[] body = await connection.ReadBodyToArrayAsync(head, MaxAnswerBytes, cancellationToken).ConfigureAwait(false);
        if (!head.KeepAlive)
            await DropConnectionAsync().ConfigureAwait(false);

        if (head.Status != 200)
            throw new SandboxException(RunFailure.NonZeroExit, $"the model answered {head.Status} to POST {path}");
        if (!ModelOutput.TryExtract(body, out ReadOnlySpan<byte> output))
            throw new SandboxException(RunFailure.NonZeroExit, "the model's answer is not a JSON object with an \"output\" or \"result\" member");
        return output.ToArray();
    }

    private async Task<HttpConnection> ConnectAsync(CancellationToken cancellationToken)
    {
        Socket socket = await NetworkNamespace.ConnectLoopbackAsync(_pid, _port, cancellationToken).ConfigureAwait(false);
        return HttpConnection.FromConnected(socket);
    }

    private async Task WaitUntilListeningAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                _connection = await ConnectAsync(cancellationToken).ConfigureAwait(false);
                return;
            }
            catch (SocketException) when (clock.Elapsed < timeout)
            {
                ContainerInspectResponse state = await _launcher.Engine.InspectContainerAsync(Id, cancellationToken).ConfigureAwait(false);
                if (state.State?.Running != true)
                    throw new SandboxException(RunFailure.NonZeroExit, $"rest model container {Id} exited (status {state.State?.ExitCode}) before listening on port {_port}; its logs say: {await TailLogsAsync(_launcher.Engine, Id).ConfigureAwait(false)}");
                await Task.Delay(50, cancellationToken).ConfigureAwait(false);
            }
            catch (SocketException e)
            {
                throw new SandboxException(RunFailure.Deadline, $"rest model container {Id} did not listen on port {_port} within {timeout.TotalSeconds:0} s ({e.SocketErrorCode})", e);
            }
        }
    }

    private async Task DropConnectionAsync()
    {
        if (_connection is { } connection)
        {
            _connection = null;
            await connection.DisposeAsync().ConfigureAwait(false);
        }
    }

    private static async Task<string> TailLogsAsync(EngineClient engine, string id)
    {
        try
        {
            (byte[] stdout, byte[] stderr) = await engine.LogsAsync(id, 2048, CancellationToken.None).ConfigureAwait(false);
            string text = System.Text.Encoding.UTF8.GetString([.. stdout, .. stderr]).Trim();
            return text.Length == 0 ? "(nothing)" : text;
        }
        catch (EngineException)
        {
            return "(unavailable)";
        }
    }
}
