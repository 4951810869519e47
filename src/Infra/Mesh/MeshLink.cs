using System.Threading.Channels;
using Grpc.Core;
using Grpc.Net.Client;
using InfraMind.Node.Crypto;
using InfraMind.Node.Crypto.Eip712;
using InfraMind.Node.Jobs.Intake;
using InfraMind.Node.Receipts;
using InfraMind.Node.Telemetry;
using Wire = InfraMind.Node.Protos.Mesh;

namespace InfraMind.Node.Mesh;

/// <summary>
/// The node's link to the scheduler mesh (CONTRACT.md §5): one <c>Connect</c> stream at a time, hello first, heartbeats
/// at the welcome's pace, acks and signed rejections for jobs, receipts from the durable log until each is acked.
/// A stream that goes silent for <see cref="MeshOptions.DeadAfterIntervals"/> heartbeat intervals is declared dead and
/// replaced; failed dials back off exponentially with full jitter and move on to the next endpoint.
/// </summary>
public sealed class MeshLink : IDisposable
{
    private readonly MeshOptions _options;
    private readonly NodeKey _key;
    private readonly IMeshJobs _jobs;
    private readonly ReceiptLog _log;
    private readonly NodeTelemetry _telemetry;
    private readonly Func<Wire.Capabilities> _capabilities;
    private readonly TimeProvider _time;
    private readonly Eip712Domain _domain;
    private readonly ReceiptSigner _signer;
    /// <summary>The most backlog receipts queued on a stream at once: read from the log as the stream drains.</summary>
    internal const int BacklogWindow = 32;

    private Session? _current;
    private long _lastJobAt;
    private int _welcomes;
    private int _outboxHighWater;

    public MeshLink(MeshOptions options, NodeKey key, IMeshJobs jobs, ReceiptLog log, NodeTelemetry telemetry, Func<Wire.Capabilities> capabilities, TimeProvider time)
    {
        if (options.Endpoints.Count == 0)
            ThrowHelper.ThrowArgument(nameof(options), "the mesh link needs at least one scheduler URL in mesh.endpoints");
        foreach (Uri endpoint in options.Endpoints)
        {
            if (endpoint.Scheme is not ("http" or "https"))
                ThrowHelper.ThrowArgument(nameof(options), $"mesh endpoint '{endpoint}' is not http:// or https://; fix mesh.endpoints");
        }

        _options = options;
        _key = key;
        _jobs = jobs;
        _log = log;
        _telemetry = telemetry;
        _capabilities = capabilities;
        _time = time;
        _domain = new Eip712Domain(options.ChainId);
        _signer = new ReceiptSigner(key, options.ChainId, NonceSource.Precomputed); // rejections; the hello keeps RFC 6979
        _jobs.Logged += OnLogged;
    }

    /// <summary>How many streams a scheduler has welcomed since start (1 after the first connect).</summary>
    public int Welcomes => Volatile.Read(ref _welcomes);

    /// <summary>The most messages any stream's outbox has held at once (tests check the backlog is paced).</summary>
    internal int OutboxHighWater => Volatile.Read(ref _outboxHighWater);

    /// <summary>The endpoint of the live, welcomed stream; null while there is none.</summary>
    public Uri? ConnectedEndpoint => Volatile.Read(ref _current)?.Endpoint;

    /// <summary>Dials, serves and redials until <paramref name="cancellationToken"/> is cancelled.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        int endpoint = 0;
        int failures = 0;
        _telemetry.SetUnackedReceipts(_log.UnackedCount);
        while (!cancellationToken.IsCancellationRequested)
        {
            Uri uri = _options.Endpoints[endpoint];
            _telemetry.SetMeshState(MeshLinkState.Connecting, uri);
            StreamEnd end;
            try
            {
                end = await RunStreamAsync(uri, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (IsStreamFailure(e))
            {
                if (cancellationToken.IsCancellationRequested)
                    break; // shutting down: the call was cancelled under us
                end = new StreamEnd(false, TimeSpan.Zero, OneLine(e));
            }
            finally
            {
                Volatile.Write(ref _current, null);
                _telemetry.SetMeshState(MeshLinkState.Disconnected);
                _telemetry.SetIdleWithoutJobs(false);
            }

            if (cancellationToken.IsCancellationRequested)
                break;
            _telemetry.RecordReconnect();
            TimeSpan delay;
            if (end.Welcomed && end.Lasted >= TimeSpan.FromMilliseconds(MeshOptions.MinHeartbeatMs))
            {
                // A stream that worked and then died is replaced at once, on the same scheduler: the silence
                // budget (MeshOptions.DeadAfterIntervals) was already spent finding out.
                failures = 0;
                delay = TimeSpan.Zero;
                _options.Info?.Invoke($"mesh: stream to {uri} ended ({end.Why}); reconnecting");
            }
            else
            {
                if (!end.Welcomed)
                    endpoint = (endpoint + 1) % _options.Endpoints.Count;
                delay = MeshProtocol.Backoff(failures++, _options.BackoffInitial, _options.BackoffMax, Random.Shared.NextDouble());
                _options.Warn?.Invoke($"mesh: {uri} failed ({end.Why}); next try {_options.Endpoints[endpoint]} in {delay.TotalMilliseconds:F0} ms");
            }

            try
            {
                await Task.Delay(delay, _time, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }

        _telemetry.SetMeshState(MeshLinkState.Disconnected);
    }

    public void Dispose() => _jobs.Logged -= OnLogged;

    private readonly record struct StreamEnd(bool Welcomed, TimeSpan Lasted, string Why);

    private async Task<StreamEnd> RunStreamAsync(Uri uri, CancellationToken cancellationToken)
    {
        using var streamCts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        CancellationToken token = streamCts.Token;
        var handler = new SocketsHttpHandler
        {
            ConnectTimeout = _options.ConnectTimeout,
            // One connection per stream: a replaced stream must not inherit a wedged connection.
            PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
            KeepAlivePingPolicy = HttpKeepAlivePingPolicy.WithActiveRequests,
        };
        using var channel = GrpcChannel.ForAddress(uri, new GrpcChannelOptions { HttpHandler = handler, DisposeHttpClient = true });
        var client = new Wire.Mesh.MeshClient(channel);
        using AsyncDuplexStreamingCall<Wire.NodeMessage, Wire.SchedulerMessage> call = client.Connect(cancellationToken: token);
        var session = new Session(uri, call, streamCts, _time, _options.ConnectTimeout, queued => InterlockedMax(ref _outboxHighWater, queued));
        Task writer = WriteLoopAsync(session, token);
        Task watchdog = WatchdogAsync(session, token);
        Task heartbeats = Task.CompletedTask;
        long started = _time.GetTimestamp();
        bool welcomed = false;
        string why = "the scheduler closed the stream";
        try
        {
            session.Send(new Wire.NodeMessage
            {
                Hello = MeshProtocol.CreateHello(_key, _domain, _options.Region, _options.Version, _capabilities(), UnixNow()),
            });

            IAsyncStreamReader<Wire.SchedulerMessage> responses = call.ResponseStream;
            if (!await responses.MoveNext(token).ConfigureAwait(false))
                return new StreamEnd(false, TimeSpan.Zero, "the scheduler closed the stream before its welcome");
            if (responses.Current.KindCase != Wire.SchedulerMessage.KindOneofCase.Welcome)
                return new StreamEnd(false, TimeSpan.Zero, $"the scheduler sent {responses.Current.KindCase} before its welcome");

            welcomed = true;
            heartbeats = OnWelcome(session, responses.Current.Welcome, token);
            while (await responses.MoveNext(token).ConfigureAwait(false))
            {
                session.Heard();
                Handle(session, responses.Current);
            }
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested && IsStreamFailure(e))
        {
            why = session.DeathReason ?? OneLine(e);
            if (!welcomed)
                return new StreamEnd(false, TimeSpan.Zero, why);
        }
        finally
        {
            Volatile.Write(ref _current, null);
            await streamCts.CancelAsync().ConfigureAwait(false);
            session.Complete();
            await Quietly(writer).ConfigureAwait(false);
            await Quietly(watchdog).ConfigureAwait(false);
            await Quietly(heartbeats).ConfigureAwait(false);
        }

        return new StreamEnd(welcomed, _time.GetElapsedTime(started), why);
    }

    private Task OnWelcome(Session session, Wire.Welcome welcome, CancellationToken token)
    {
        TimeSpan interval = MeshProtocol.HeartbeatInterval(welcome);
        session.Welcomed(interval);
        Interlocked.Increment(ref _welcomes);
        _telemetry.SetStake(welcome.Stake.Length == 0 ? null : welcome.Stake);
        _telemetry.SetMeshState(MeshLinkState.Connected, session.Endpoint);
        Interlocked.CompareExchange(ref _lastJobAt, _time.GetTimestamp(), 0);
        _options.Info?.Invoke($"mesh: connected to {session.Endpoint} (scheduler {welcome.Scheduler}, heartbeat {interval.TotalMilliseconds:F0} ms, stake {welcome.Stake})");

        // Live first, then the backlog: a receipt logged in between is sent twice rather than not at all
        // (the scheduler stores by job id, so a repeat is harmless).
        Volatile.Write(ref _current, session);
        _telemetry.SetUnackedReceipts(_log.UnackedCount);
        return Task.WhenAll(HeartbeatLoopAsync(session, interval, token), SendBacklogAsync(session, token));
    }

    /// <summary>
    /// Sends the receipts the scheduler has not acked, read from the log only as the stream takes them (at most
    /// <see cref="BacklogWindow"/> queued): after a long outage the backlog is every receipt of it, and reading it all
    /// first held each one as an object and a message (about 2 KB) in memory at once.
    /// </summary>
    private async Task SendBacklogAsync(Session session, CancellationToken token)
    {
        try
        {
            foreach (SignedReceipt receipt in _log.EnumerateUnacked())
            {
                await session.RoomAsync(BacklogWindow).WaitAsync(token).ConfigureAwait(false);
                session.Send(new Wire.NodeMessage { Receipt = MeshProtocol.ToMessage(receipt) });
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            // The stream ended; the next one starts the backlog again.
        }
        catch (ReceiptLogException e)
        {
            _options.Warn?.Invoke($"mesh: the receipt backlog stopped: {e.Message}");
        }
    }

    private void Handle(Session session, Wire.SchedulerMessage message)
    {
        switch (message.KindCase)
        {
            case Wire.SchedulerMessage.KindOneofCase.Ping:
                session.Send(new Wire.NodeMessage { Pong = new Wire.Pong { Nonce = message.Ping.Nonce } });
                break;
            case Wire.SchedulerMessage.KindOneofCase.Job:
                HandleJob(session, message.Job);
                break;
            case Wire.SchedulerMessage.KindOneofCase.Cancel:
                _jobs.Cancel(message.Cancel.JobId);
                break;
            case Wire.SchedulerMessage.KindOneofCase.ReceiptAck:
                Acked(message.ReceiptAck.JobId);
                break;
            case Wire.SchedulerMessage.KindOneofCase.Welcome:
                _telemetry.SetStake(message.Welcome.Stake.Length == 0 ? null : message.Welcome.Stake);
                break;
            default:
                // A newer scheduler's message kind: ignored, the stream goes on (forward compatible).
                break;
        }
    }

    private void HandleJob(Session session, Wire.Job job)
    {
        Volatile.Write(ref _lastJobAt, _time.GetTimestamp());
        _telemetry.SetIdleWithoutJobs(false);
        SignedRejection? rejection;
        if (MeshProtocol.TryToJobRequest(job, out JobRequest? request, out MeshJobProblem problem))
        {
            MeshSubmission result;
            try
            {
                result = _jobs.Submit(request!);
            }
            catch (Exception e) when (e is ReceiptLogException or IOException or InvalidOperationException)
            {
                // The node cannot take the job right now (its log or disk failed): say so rather than stay silent.
                _options.Warn?.Invoke($"mesh: job {job.JobId} could not be submitted: {e.Message}");
                rejection = SignOwnRejection(job, RejectReason.QueueFull);
                if (rejection is not null)
                    session.Send(new Wire.NodeMessage { Rejection = MeshProtocol.ToMessage(rejection) });
                return;
            }

            if (result.Accepted)
            {
                session.Send(new Wire.NodeMessage { Ack = new Wire.Ack { JobId = job.JobId } });
                return;
            }

            rejection = result.Rejection;
        }
        else
        {
            rejection = SignOwnRejection(job, MeshProtocol.Reason(problem));
        }

        if (rejection is not null)
            session.Send(new Wire.NodeMessage { Rejection = MeshProtocol.ToMessage(rejection) });
    }

    /// <summary>A rejection for a job that never reached the pipeline; null when even that cannot be signed (a junk id).</summary>
    private SignedRejection? SignOwnRejection(Wire.Job job, RejectReason reason)
    {
        try
        {
            return _signer.Sign(new Rejection(job.JobId, MeshProtocol.BestEffortJobHash(job, _domain), reason.Code(), _key.Address, UnixNow()));
        }
        catch (ReceiptException e)
        {
            _options.Warn?.Invoke($"mesh: dropped a job that cannot even be refused ({e.Message})");
            return null;
        }
    }

    private void Acked(string jobId)
    {
        try
        {
            _log.MarkAcked(jobId);
        }
        catch (ReceiptLogException e)
        {
            // Not durable: the receipt stays unacked and is sent again on the next stream, which is safe.
            _options.Warn?.Invoke($"mesh: could not record the ack of {jobId}: {e.Message}");
        }

        _telemetry.SetUnackedReceipts(_log.UnackedCount);
    }

    private void OnLogged(MeshLogged logged)
    {
        if (logged.Receipt is not null)
            _telemetry.SetUnackedReceipts(_log.UnackedCount);
        Session? session = Volatile.Read(ref _current);
        if (session is null)
            return; // the receipt waits in the log for the next stream's backlog
        if (logged.Receipt is not null)
            session.Send(new Wire.NodeMessage { Receipt = MeshProtocol.ToMessage(logged.Receipt) });
        else if (logged.Rejection is not null)
            session.Send(new Wire.NodeMessage { Rejection = MeshProtocol.ToMessage(logged.Rejection) });
    }

    private async Task HeartbeatLoopAsync(Session session, TimeSpan interval, CancellationToken token)
    {
        using var timer = new PeriodicTimer(interval, _time);
        do
        {
            session.Send(new Wire.NodeMessage { Heartbeat = Heartbeat() });
            bool idle = _time.GetElapsedTime(Volatile.Read(ref _lastJobAt)) >= _options.IdleAlert;
            _telemetry.SetIdleWithoutJobs(idle);
        }
        while (await timer.WaitForNextTickAsync(token).ConfigureAwait(false));
    }

    private Wire.Heartbeat Heartbeat()
    {
        TelemetrySnapshot snapshot = _telemetry.Snapshot();
        HostLoadSample load = _options.Load?.Invoke() ?? HostLoadSample.Unknown;
        return new Wire.Heartbeat
        {
            Timestamp = UnixNow(),
            ActiveJobs = (uint)Math.Clamp(snapshot.ActiveJobs, 0, uint.MaxValue),
            CpuUtilization = load.CpuUtilization ?? 0,
            MemoryUtilization = load.MemoryUtilization ?? 0,
            CacheHitRatio = snapshot.CacheHitRatio,
            JobsSucceeded = (ulong)snapshot.JobsSucceeded,
            JobsFailed = (ulong)snapshot.JobsFailed,
            MeanLatencyMs = snapshot.MeanLatencyMs,
        };
    }

    // The only writer of the request stream: gRPC allows one write at a time.
    private async Task WriteLoopAsync(Session session, CancellationToken token)
    {
        try
        {
            await foreach (Wire.NodeMessage message in session.Outbox.ReadAllAsync(token).ConfigureAwait(false))
            {
                await session.Call.RequestStream.WriteAsync(message, token).ConfigureAwait(false);
                session.Written();
                if (message.KindCase == Wire.NodeMessage.KindOneofCase.Heartbeat)
                    _telemetry.RecordHeartbeat();
            }
        }
        catch (Exception e) when (!token.IsCancellationRequested && IsStreamFailure(e))
        {
            session.Kill($"writing to the stream failed: {OneLine(e)}");
        }
    }

    // Declares the stream dead when nothing arrived for too long: before the welcome the connect timeout, after it
    // MeshOptions.DeadAfterIntervals heartbeat intervals. Sleeps exactly until the next possible expiry rather than
    // polling, and is woken by the welcome: the limit then shrinks from the connect timeout (10 s by default) to a few
    // intervals, and a sleep sized for the old limit would let a stall in the stream's first seconds go unseen.
    private async Task WatchdogAsync(Session session, CancellationToken token)
    {
        while (!token.IsCancellationRequested)
        {
            TimeSpan left = session.SilenceLimit - _time.GetElapsedTime(session.LastHeard);
            if (left <= TimeSpan.Zero)
            {
                session.Kill(session.IsWelcomed
                    ? $"no message for {session.SilenceLimit.TotalMilliseconds:F0} ms ({MeshOptions.DeadAfterIntervals:0.#} heartbeat intervals): stream declared dead"
                    : $"no welcome within {session.SilenceLimit.TotalSeconds:F0} s (mesh.connect_timeout_seconds)");
                return;
            }

            if (session.IsWelcomed)
            {
                await Task.Delay(left, _time, token).ConfigureAwait(false);
            }
            else
            {
                // WhenAny never throws; a cancelled token ends the loop above. The losing delay is cancelled with the stream.
                await Task.WhenAny(Task.Delay(left, _time, token), session.WelcomeSeen).ConfigureAwait(false);
            }
        }
    }

    private ulong UnixNow() => (ulong)_time.GetUtcNow().ToUnixTimeSeconds();

    private static bool IsStreamFailure(Exception e) =>
        e is RpcException or IOException or HttpRequestException or OperationCanceledException or InvalidOperationException or ObjectDisposedException;

    private static void InterlockedMax(ref int target, int value)
    {
        int seen = Volatile.Read(ref target);
        while (value > seen)
        {
            int was = Interlocked.CompareExchange(ref target, value, seen);
            if (was == seen)
                return;
            seen = was;
        }
    }

    private static string OneLine(Exception e) =>
        e is RpcException rpc ? $"{rpc.StatusCode}: {rpc.Status.Detail}" : e.Message.ReplaceLineEndings(" ");

    private static async Task Quietly(Task task)
    {
        try
        {
            await task.ConfigureAwait(false);
        }
        catch (Exception e) when (IsStreamFailure(e))
        {
            // The stream is over; its helpers' endings carry no news.
        }
    }

    /// <summary>One stream's state: its outbox, when it last heard anything, and how long a silence it tolerates.</summary>
    private sealed class Session(Uri endpoint, AsyncDuplexStreamingCall<Wire.NodeMessage, Wire.SchedulerMessage> call, CancellationTokenSource cts, TimeProvider time, TimeSpan connectTimeout, Action<int> queuedNow)
    {
        private readonly Channel<Wire.NodeMessage> _outbox = Channel.CreateUnbounded<Wire.NodeMessage>(new UnboundedChannelOptions { SingleReader = true });
        // Messages sent and not yet written to the stream (a single-reader channel cannot count them), and the backlog
        // sender waiting for that to fall.
        private int _queued;
        private int _roomBelow;
        private TaskCompletionSource? _room;
        private long _lastHeard = time.GetTimestamp();
        private long _silenceLimitTicks = connectTimeout.Ticks;
        private readonly TaskCompletionSource _welcomeSeen = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private volatile bool _welcomed;
        private volatile string? _deathReason;

        public Uri Endpoint { get; } = endpoint;

        public AsyncDuplexStreamingCall<Wire.NodeMessage, Wire.SchedulerMessage> Call { get; } = call;

        public ChannelReader<Wire.NodeMessage> Outbox => _outbox.Reader;

        public long LastHeard => Volatile.Read(ref _lastHeard);

        public TimeSpan SilenceLimit => TimeSpan.FromTicks(Volatile.Read(ref _silenceLimitTicks));

        public bool IsWelcomed => _welcomed;

        /// <summary>Completes at the welcome, when the silence limit changes.</summary>
        public Task WelcomeSeen => _welcomeSeen.Task;

        public string? DeathReason => _deathReason;

        public void Heard() => Volatile.Write(ref _lastHeard, time.GetTimestamp());

        public void Welcomed(TimeSpan interval)
        {
            Heard();
            Volatile.Write(ref _silenceLimitTicks, MeshOptions.SilenceLimit(interval).Ticks);
            _welcomed = true;
            _welcomeSeen.TrySetResult();
        }

        public void Send(Wire.NodeMessage message)
        {
            queuedNow(Interlocked.Increment(ref _queued));
            _outbox.Writer.TryWrite(message);
        }

        /// <summary>The writer put one message on the stream; wakes the backlog sender once the queue is below its window.</summary>
        public void Written()
        {
            int queued = Interlocked.Decrement(ref _queued);
            if (queued < Volatile.Read(ref _roomBelow))
                Interlocked.Exchange(ref _room, null)?.TrySetResult();
        }

        /// <summary>
        /// Completes at once while fewer than <paramref name="window"/> messages wait to be written, else once the writer
        /// has taken half of them (one wake-up per half window, not per message). One waiter at a time.
        /// </summary>
        public Task RoomAsync(int window)
        {
            if (Volatile.Read(ref _queued) < window)
                return Task.CompletedTask;
            int below = Math.Max(1, window / 2);
            var room = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Volatile.Write(ref _roomBelow, below);
            Volatile.Write(ref _room, room);
            // The writer may have drained the queue between the check and the waiter being set.
            if (Volatile.Read(ref _queued) < below)
                Interlocked.Exchange(ref _room, null)?.TrySetResult();
            return room.Task;
        }

        public void Complete() => _outbox.Writer.TryComplete();

        public void Kill(string reason)
        {
            _deathReason ??= reason;
            try
            {
                cts.Cancel();
            }
            catch (ObjectDisposedException)
            {
                // The stream already ended.
            }
        }
    }
}
