using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using InfraMind.Node.Configuration;
using InfraMind.Node.Containers;
using InfraMind.Node.Containers.Engine;
using InfraMind.Node.Containers.Runs;
using InfraMind.Node.Crypto;
using InfraMind.Node.Crypto.Eip712;
using InfraMind.Node.Hardware;
using InfraMind.Node.Jobs;
using InfraMind.Node.Jobs.Admission;
using InfraMind.Node.Jobs.Intake;
using InfraMind.Node.Listener.Http;
using InfraMind.Node.Listener.Routes;
using InfraMind.Node.Mesh;
using InfraMind.Node.Models;
using InfraMind.Node.Models.Cache;
using InfraMind.Node.Models.Fetch;
using InfraMind.Node.Receipts;
using InfraMind.Node.Telemetry;

namespace InfraMind.Node.Agent;

/// <summary>
/// The running node: wires configuration, key, engine, cache, job pipeline, receipt log, telemetry, the
/// public listener and the control socket, then serves until told to stop, and drains.
/// </summary>
public sealed class NodeAgent : IAsyncDisposable, IReadiness
{
    /// <summary>How long a stop waits for running jobs before it cancels them.</summary>
    public static readonly TimeSpan DrainGrace = TimeSpan.FromSeconds(30);

    private readonly NodeConfig _config;
    private readonly NodeKey _key;
    private readonly AgentLog _log;
    private readonly List<IAsyncDisposable> _owned = [];
    private readonly CancellationTokenSource _stopping = new();
    private readonly List<Task> _background = [];
    private EngineClient? _engine;
    private HttpServer? _public;
    private HttpServer? _control;
    private JobPipeline? _pipeline;
    private ReceiptLog? _receipts;
    private WarmPool? _warm;
    private BundleCache? _cache;

    private NodeAgent(NodeConfig config, NodeKey key, AgentLog log)
    {
        _config = config;
        _key = key;
        _log = log;
        Telemetry = new NodeTelemetry(key.Address.ToString(), config.Node.Region, BuildInfo.Version, DateTimeOffset.UtcNow);
        Sampler = new TelemetrySampler(new HostLoad(), new ProcessStats());
    }

    public NodeTelemetry Telemetry { get; }

    public TelemetrySampler Sampler { get; }

    public JobPipeline Pipeline => _pipeline!;

    public EngineClient Engine => _engine!;

    /// <summary>The public listener's address once bound (port 0 in config picks a free one).</summary>
    public EndPoint? PublicEndPoint => _public is { EndPoints.Count: > 0 } ? _public.EndPoints[0] : null;

    public CancellationToken Stopping => _stopping.Token;

    /// <summary>Starts everything; a failure here stops what was started and is reported as one line.</summary>
    public static async Task<NodeAgent> StartAsync(NodeConfig config, NodeKey key, AgentLog log, CancellationToken cancellationToken)
    {
        var agent = new NodeAgent(config, key, log);
        try
        {
            await agent.StartCoreAsync(cancellationToken).ConfigureAwait(false);
            return agent;
        }
        catch
        {
            await agent.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private async Task StartCoreAsync(CancellationToken cancellationToken)
    {
        Sampler.SampleNow();
        _background.Add(Sampler.RunAsync(_stopping.Token));

        _engine = await EngineLocator.ConnectAsync(_config, HostPaths.Current(), cancellationToken).ConfigureAwait(false);
        IReadOnlyList<string> swept = await new Reconciler(_engine, _key.Address).SweepAsync(new HashSet<string>(), cancellationToken).ConfigureAwait(false);
        _log.Info($"engine: {_engine.Kind.ToString().ToLowerInvariant()} {_engine.EngineVersion} at {_engine.SocketPath}; removed {swept.Count} orphaned job container(s)");

        string stateDir = _config.Node.StateDir;
        Directory.CreateDirectory(stateDir);
        long opening = Stopwatch.GetTimestamp();
        _receipts = ReceiptLog.Open(Path.Combine(stateDir, "receipts"));
        TimeSpan opened = Stopwatch.GetElapsedTime(opening);
        var replay = new ReplayGuard(TimeProvider.System, logged: _receipts.HasReceipt);
        if (!_receipts.Recovery.MiddleIntact || _receipts.Recovery.TailBytesDropped > 0)
            _log.Warn($"receipt log: {_receipts.Recovery.Describe()}");
        _log.Info($"receipt log: {_receipts.ReceiptCount} receipt(s), {_receipts.UnackedCount} not yet acknowledged by a scheduler; "
            + $"read in {opened.TotalSeconds:0.0} s, {_receipts.Recovery.SignaturesChecked} signature(s) checked (records a start checked before are not checked again)");

        HostCapacity capacity = HostCapacity.Read();
        _log.Info($"capacity for jobs: {capacity.JobCpuMillicores}m CPU ({capacity.CpuSource}), {capacity.JobMemoryBytes >> 20} MiB ({capacity.MemorySource}), {capacity.Gpus.Gpus.Count} GPU(s)");
        var gate = new ResourceGate(capacity.JobCpuMillicores, capacity.JobMemoryBytes, capacity.Gpus.Gpus.Count);

        var cache = _cache = new BundleCache(_config.CacheDir, _config.Cache.MaxBytes);
        var http = new HttpClient(new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(15), AutomaticDecompression = DecompressionMethods.None })
        {
            Timeout = Timeout.InfiniteTimeSpan,
        };
        http.DefaultRequestHeaders.UserAgent.ParseAdd($"inframind-node/{BuildInfo.Version.Split('+')[0]}");
        var ipfs = _config.Registry.IpfsGateways.Count > 0 ? new IpfsGatewayFetcher(http, _config.Registry.IpfsGateways, TimeSpan.FromSeconds(60)) : null;
        var preparer = new ModelPreparer(cache, _engine, new HttpBundleFetcher(http), ipfs, _config.Cache.MaxBytes);

        var launcher = new SandboxLauncher(_engine);
        _warm = new WarmPool(launcher, capacity.JobMemoryBytes / 2, TimeSpan.FromSeconds(30));
        var domain = new Eip712Domain(_config.Mesh.ChainId);
        var verifier = new JobVerifier(domain, _key.Address, _config.Mesh.TrustedSchedulers, replay, TimeProvider.System);
        // Receipts, rejections and batch roots sign with nonces precomputed while the node idles (about 1 µs instead
        // of ~0.2 ms on the answer's path); the mesh hello keeps RFC 6979.
        var signer = new ReceiptSigner(_key, _config.Mesh.ChainId, NonceSource.Precomputed);
        _pipeline = new JobPipeline(new JobBoard(TimeProvider.System), verifier, replay, preparer, gate, new StdioRunner(_engine), _warm, signer, _receipts, Telemetry,
            new PipelineOptions(), TimeProvider.System)
        {
            GpuUuids = capacity.Gpus.Gpus.Select(g => g.Uuid).ToArray(),
        };
        if (_config.Mesh.Endpoints.Count > 0)
        {
            // The mesh link: hello, heartbeats, acks, rejections and receipts until acknowledged (CONTRACT.md §5).
            var meshJobs = new PipelineMeshJobs(_pipeline);
            var capabilities = MeshProtocol.Capabilities(capacity, _engine.Kind.ToString().ToLowerInvariant(), _engine.EngineVersion, cache.FreeBytes());
            var mesh = new MeshLink(
                MeshOptions.FromConfig(_config, BuildInfo.Version) with { Load = () => Sampler.LatestHost, Info = _log.Info, Warn = _log.Warn },
                _key, meshJobs, _receipts, Telemetry, () => capabilities, TimeProvider.System);
            _background.Add(mesh.RunAsync(_stopping.Token));
            _log.Info($"mesh: dialing {string.Join(", ", _config.Mesh.Endpoints)}");
        }
        else
        {
            Telemetry.SetMeshState(MeshLinkState.Disconnected);
        }

        if (_config.Mesh.TrustedSchedulers.Count == 0)
            _log.Warn("mesh.trusted_schedulers is empty: every job will be rejected as untrusted_signer; add the scheduler addresses to config.yaml");
        _background.Add(LogJobEventsAsync(_pipeline.Board, _stopping.Token));
        _background.Add(new Reconciler(_engine, _key.Address).RunPeriodicallyAsync(
            () => LiveContainers(), TimeSpan.FromSeconds(30), e => _log.Warn($"orphan sweep failed: {e.Message}"), _stopping.Token));

        var routes = new PublicRoutes(_pipeline, Telemetry, Sampler, _receipts, new ReceiptBatcher(signer), this) { MeshConfigured = _config.Mesh.Endpoints.Count > 0 };
        _public = new HttpServer(routes, new HttpServerOptions(), e => _log.Warn($"request failed: {e.GetType().Name}: {e.Message}"));
        if (!IPAddress.TryParse(_config.Listener.Bind, out IPAddress? bind))
            ThrowHelper.ThrowConfiguration($"listener.bind '{_config.Listener.Bind}' is not an IP address; use 0.0.0.0 or 127.0.0.1");
        try
        {
            _public.Start([new IPEndPoint(bind, _config.Listener.Port)]);
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressAlreadyInUse)
        {
            ThrowHelper.ThrowRuntime($"port {_config.Listener.Port} on {bind} is already in use: stop what holds it (`ss -ltnp 'sport = :{_config.Listener.Port}'`) or set listener.port");
        }

        _log.Info($"listening on http://{_public.EndPoints[0]} (GET /healthz, /readyz, /v1/status, /metrics; POST /v1/jobs)");
        StartControl();
    }

    private void StartControl()
    {
        string socket = _config.Control.Socket;
        Directory.CreateDirectory(Path.GetDirectoryName(socket)!);
        var plane = new NodeControlPlane(_pipeline!, Telemetry, Sampler, _cache!, _config.Mesh.Endpoints.Count > 0);
        var service = new Control.ControlService(plane, (method, e) => _log.Warn($"control {method} failed: {e.Message}"));
        _control = new HttpServer(new ControlEndpoint(service), new HttpServerOptions { HeaderTimeout = TimeSpan.FromSeconds(5) }, e => _log.Warn($"control request failed: {e.Message}"));
        _control.Start([new UnixDomainSocketEndPoint(socket)]);
        _log.Info($"control plane on {socket} (infra status, infra jobs, infra drain)");
    }

    private HashSet<string> LiveContainers()
    {
        var live = new HashSet<string>(_pipeline!.Board.Unfinished().Select(j => j.JobId), StringComparer.Ordinal);
        live.UnionWith(_warm!.LiveLabels());
        return live;
    }

    public IReadOnlyList<ReadinessCheck> Check()
    {
        var checks = new List<ReadinessCheck>
        {
            new("identity", true, _key.Address.ToString()),
            new("engine", _engine is not null, _engine is null ? "not connected" : $"{_engine.Kind.ToString().ToLowerInvariant()} {_engine.EngineVersion}"),
        };
        if (_config.Mesh.Endpoints.Count > 0)
        {
            TelemetrySnapshot s = Telemetry.Snapshot();
            checks.Add(new("mesh", s.MeshConnected, s.MeshState.ToString().ToLowerInvariant()));
        }

        return checks;
    }

    /// <summary>
    /// Each job's outcome and prepare progress (at most once a second per job) go to the log at info, its other state
    /// changes at debug: five lines a warm job at info were 3,500 lines a second at full rate, past what journald takes
    /// from one service before it drops lines (10,000 in 30 s by default), warnings included.
    /// </summary>
    private async Task LogJobEventsAsync(JobBoard board, CancellationToken cancellationToken)
    {
        var lastProgress = new Dictionary<string, long>(StringComparer.Ordinal);
        try
        {
            await foreach (JobEvent change in board.Watch(cancellationToken).ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                if (change.Progress is { } p)
                {
                    if (p.Phase == PreparePhase.Ready && p.Bytes == 0)
                        continue; // a model already prepared: nothing moved, and "starting" follows at once
                    long tick = Environment.TickCount64;
                    if (lastProgress.TryGetValue(change.JobId, out long last) && tick - last < 1000)
                        continue;
                    lastProgress[change.JobId] = tick;
                    string total = p.TotalBytes is { } t ? $"/{t / 1e6:0.0} MB" : string.Empty;
                    _log.Info($"job {change.JobId} preparing: {p.Phase.ToString().ToLowerInvariant()} {p.Bytes / 1e6:0.0}{total} MB, {p.Blocks} blocks, {p.BytesPerSecond / 1e6:0.0} MB/s");
                    continue;
                }

                lastProgress.Remove(change.JobId);
                string message = change.Message is { } m ? $": {m}" : string.Empty;
                if (!change.State.IsFinal())
                {
                    if (_log.IsEnabled(LogLevel.Debug))
                        _log.Debug($"job {change.JobId} {change.State.Code()}{message}");
                    continue;
                }

                // One line a job at info: its outcome and how long it took from arrival (a record the board has let go
                // of, under a burst of more than its history, is logged without the time).
                string took = board.TryGet(change.JobId, out JobRecord? record)
                    ? $" in {(change.At - record!.ReceivedAt).TotalMilliseconds:0} ms"
                    : string.Empty;
                _log.Info($"job {change.JobId} {change.State.Code()}{took}{message}");
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Stops taking work, lets running jobs finish (bounded), then closes everything.</summary>
    public async Task StopAsync(TimeSpan grace)
    {
        _log.Info("stopping: draining the listener and running jobs");
        Task? drainJobs = _pipeline?.DrainAsync(grace);
        if (_public is not null)
            await _public.StopAsync(grace).ConfigureAwait(false);
        if (drainJobs is not null)
            await drainJobs.ConfigureAwait(false);
        if (_control is not null)
            await _control.StopAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(false);
        await _stopping.CancelAsync().ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        if (!_stopping.IsCancellationRequested)
            await _stopping.CancelAsync().ConfigureAwait(false);
        foreach (Task task in _background)
        {
            try
            {
                await task.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
        }

        if (_public is not null)
            await _public.DisposeAsync().ConfigureAwait(false);
        if (_control is not null)
            await _control.DisposeAsync().ConfigureAwait(false);
        if (_pipeline is not null)
            await _pipeline.DisposeAsync().ConfigureAwait(false);
        if (_warm is not null)
            await _warm.DisposeAsync().ConfigureAwait(false);
        _receipts?.Dispose();
        if (_engine is not null)
            await _engine.DisposeAsync().ConfigureAwait(false);
        _stopping.Dispose();
    }
}

/// <summary>
/// The agent's log: one line per event on stderr (the journal under systemd, which keeps the time), <c>level: message</c>;
/// below <see cref="Level"/> nothing is written.
/// </summary>
public sealed class AgentLog(TextWriter output, LogLevel level = LogLevel.Info)
{
    private readonly Lock _lock = new();

    public LogLevel Level => level;

    public bool IsEnabled(LogLevel candidate) => candidate >= level;

    public void Debug(string message) => Write(LogLevel.Debug, "debug", message);

    public void Info(string message) => Write(LogLevel.Info, "info", message);

    public void Warn(string message) => Write(LogLevel.Warn, "warn", message);

    public void Error(string message) => Write(LogLevel.Error, "error", message);

    private void Write(LogLevel severity, string name, string message)
    {
        if (severity < level)
            return;
        lock (_lock)
            output.WriteLine($"{name}: {message}");
    }
}
