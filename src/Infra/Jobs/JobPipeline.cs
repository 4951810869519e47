using System.Diagnostics;
using System.Text;
using System.Text.Json;
using InfraMind.Node.Containers.Runs;
using InfraMind.Node.Containers.Sandbox;
using InfraMind.Node.Crypto;
using InfraMind.Node.Hardware;
using InfraMind.Node.Jobs.Admission;
using InfraMind.Node.Jobs.Intake;
using InfraMind.Node.Jobs.Validation;
using InfraMind.Node.Models;
using InfraMind.Node.Models.Bundles;
using InfraMind.Node.Models.Content;
using InfraMind.Node.Models.Fetch;
using InfraMind.Node.Receipts;
using InfraMind.Node.Telemetry;

namespace InfraMind.Node.Jobs;

/// <summary>Tunables of the job pipeline; defaults suit a small node.</summary>
public sealed record PipelineOptions
{
    /// <summary>Jobs accepted but not finished, at most; past it a job is refused with queue_full.</summary>
    public int MaxPending { get; init; } = 256;

    /// <summary>The prepare phase's own limit (fetch, verify, load), not charged to the execution.</summary>
    public TimeSpan PrepareTimeout { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>How long a rest model may take to listen after its container starts.</summary>
    public TimeSpan RestReadyTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Prepares running at once: downloads share the link and the disk.</summary>
    public int MaxConcurrentPrepares { get; init; } = 2;
}

/// <summary>
/// Intake → queue → prepare → run → validate → sign: a job from its arrival to its logged receipt. Every
/// job that was accepted ends with exactly one signed receipt (or, when its model cannot run here, a
/// signed rejection) appended to the durable log before anyone is told.
/// </summary>
public sealed class JobPipeline : IAsyncDisposable
{
    private readonly JobBoard _board;
    private readonly JobVerifier _verifier;
    private readonly ReplayGuard _replay;
    private readonly ModelPreparer _preparer;
    private readonly ResourceGate _gate;
    private readonly StdioRunner _stdio;
    private readonly WarmPool _warm;
    private readonly ReceiptSigner _signer;
    private readonly ReceiptLog _log;
    private readonly NodeTelemetry _telemetry;
    private readonly PipelineOptions _options;
    private readonly TimeProvider _time;
    private readonly SemaphoreSlim _prepares;
    private readonly KeyedLock _modelPrepares = new();
    private readonly CancellationTokenSource _shutdown = new();
    private readonly List<Task> _running = [];
    private readonly Lock _lock = new();
    private volatile bool _draining;

    public JobPipeline(JobBoard board, JobVerifier verifier, ReplayGuard replay, ModelPreparer preparer, ResourceGate gate,
        StdioRunner stdio, WarmPool warm, ReceiptSigner signer, ReceiptLog log, NodeTelemetry telemetry, PipelineOptions options, TimeProvider time)
    {
        _board = board;
        _verifier = verifier;
        _replay = replay;
        _preparer = preparer;
        _gate = gate;
        _stdio = stdio;
        _warm = warm;
        _signer = signer;
        _log = log;
        _telemetry = telemetry;
        _options = options;
        _time = time;
        _prepares = new SemaphoreSlim(options.MaxConcurrentPrepares);
    }

    public JobBoard Board => _board;

    /// <summary>The host's GPUs by index, as the resource gate assigns them (NVML order).</summary>
    public IReadOnlyList<string> GpuUuids { get; init; } = [];

    public bool Draining => _draining;

    /// <summary>Raised once a receipt or rejection is in the durable log: the mesh link delivers it from here.</summary>
    public event Action<byte[], string>? Logged;

    /// <summary>
    /// Checks and accepts a job, or throws <see cref="JobRejectedException"/> carrying the signed rejection to
    /// send back (<see cref="JobRejectedException.RejectionJson"/>).
    /// </summary>
    public JobRecord Submit(JobRequest job)
    {
        Hash32 jobHash = default;
        bool reserved = false;
        try
        {
            if (_draining)
                throw new JobRejectedException(RejectReason.Draining, "this node is draining and accepts no new jobs");
            VerifiedJob verified = _verifier.Verify(job, out jobHash);
            reserved = true;
            CheckInput(job);
            if (_board.UnfinishedCount >= _options.MaxPending)
                throw new JobRejectedException(RejectReason.QueueFull, $"this node already holds {_options.MaxPending} unfinished jobs; try another node or later");

            JobRecord record = _board.Add(verified);
            UpdateGauges();
            Track(Task.Run(() => ExecuteAsync(record)));
            return record;
        }
        catch (JobRejectedException e)
        {
            if (reserved && e.Reason != RejectReason.DuplicateJob)
                _replay.Release(job.JobId);
            if (jobHash == default)
                jobHash = _verifier.JobHash(job);
            e.RejectionJson = Reject(job.JobId, jobHash, e.Reason, logIt: IsFromTrustedScheduler(e.Reason));
            throw;
        }
    }

    /// <summary>
    /// A rejection is signed for every job that names itself, but only logged (fsync) for jobs that passed the
    /// signature and trust checks: anyone can post junk to the public port, and junk must not cost disk.
    /// </summary>
    private static bool IsFromTrustedScheduler(RejectReason reason) =>
        reason is not (RejectReason.BadSignature or RejectReason.UntrustedSigner or RejectReason.Malformed or RejectReason.TooLarge);

    /// <summary>Signs (and when <paramref name="logIt"/>, logs) the rejection; its JSON, written once for all its readers.</summary>
    private byte[] Reject(string jobId, Hash32 jobHash, RejectReason reason, bool logIt)
    {
        var rejection = new Rejection(jobId, jobHash, reason.Code(), _verifier.Node, Now());
        SignedRejection signed = _signer.Sign(rejection);
        byte[] json = signed.ToJson();
        _telemetry.RecordRejection(reason.Code());
        if (logIt && _log.TryAppend(signed, json))
            Logged?.Invoke(json, jobId);
        return json;
    }

    private static void CheckInput(JobRequest job)
    {
        if (!SchemaSpec.TryParse(job.OutputSchema, out _, out SchemaException? outputError))
            throw new JobRejectedException(RejectReason.InputInvalid, $"expected_schema.output is not usable: {outputError!.Message}");
        if (!SchemaSpec.TryParse(job.InputSchema, out SchemaSpec? input, out SchemaException? inputError))
            throw new JobRejectedException(RejectReason.InputInvalid, $"expected_schema.input is not usable: {inputError!.Message}");
        ValidationResult check = input!.Validate(job.Input);
        if (!check.IsValid)
            throw new JobRejectedException(RejectReason.InputInvalid, $"the input does not match its schema {job.InputSchema}: {check.Message}");
    }

    /// <summary>Stops taking new jobs (they get 503 draining); running and queued ones go on.</summary>
    public void BeginDrain() => _draining = true;

    /// <summary>Takes jobs again after <see cref="BeginDrain"/>.</summary>
    public void Resume()
    {
        if (!_shutdown.IsCancellationRequested)
            _draining = false;
    }

    /// <summary>Stops taking jobs; running ones finish (or are cancelled after <paramref name="grace"/>).</summary>
    public async Task DrainAsync(TimeSpan grace)
    {
        _draining = true;
        Task[] running;
        lock (_lock)
            running = [.. _running];
        Task all = Task.WhenAll(running);
        if (await Task.WhenAny(all, Task.Delay(grace)).ConfigureAwait(false) != all)
        {
            await _shutdown.CancelAsync().ConfigureAwait(false);
            await all.ConfigureAwait(false);
        }
    }

    public bool Cancel(string jobId)
    {
        if (!_board.TryGet(jobId, out JobRecord? record) || record!.State.IsFinal())
            return false;
        record.Cancellation.Cancel();
        return true;
    }

    private void Track(Task task)
    {
        lock (_lock)
        {
            _running.RemoveAll(t => t.IsCompleted);
            _running.Add(task);
        }
    }

    private async Task ExecuteAsync(JobRecord record)
    {
        JobRequest job = record.Request;
        DateTimeOffset deadline = DateTimeOffset.FromUnixTimeSeconds((long)job.Deadline);
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(record.Cancellation.Token, _shutdown.Token);
        using var byDeadline = CancellationTokenSource.CreateLinkedTokenSource(cancel.Token);
        byDeadline.CancelAfter(Clamp(deadline - _time.GetUtcNow()));

        Outcome outcome;
        try
        {
            outcome = await RunJobAsync(record, deadline, byDeadline.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
            outcome = Outcome.Final(JobState.Cancelled, _shutdown.IsCancellationRequested ? "the node shut down before the job finished" : "the job was cancelled");
        }
        catch (OperationCanceledException) when (byDeadline.IsCancellationRequested)
        {
            outcome = Outcome.Final(JobState.TimedOut, $"the deadline {job.Deadline} passed before the job finished");
        }
        catch (JobRejectedException e)
        {
            byte[] rejection = Reject(job.JobId, record.JobHash, e.Reason, logIt: true);
            record.Finish(JobState.Rejected, rejection, e.Message, e.Reason);
            UpdateGauges();
            return;
        }
        catch (Exception e) when (e is FetchException or BundleException or ManifestException or SandboxException or IOException or InvalidOperationException)
        {
            outcome = Outcome.Final(e is SandboxException { Failure: RunFailure.Deadline } ? JobState.TimedOut : JobState.Failed, OneLine(e.Message));
        }

        await FinishWithReceiptAsync(record, outcome).ConfigureAwait(false);
    }

    private async Task<Outcome> RunJobAsync(JobRecord record, DateTimeOffset deadline, CancellationToken cancellationToken)
    {
        record.MoveTo(JobState.Preparing);
        UpdateGauges();
        PreparedModel model = await PrepareAsync(record, cancellationToken).ConfigureAwait(false);
        try
        {
            return await RunPreparedAsync(record, model, deadline, cancellationToken).ConfigureAwait(false);
        }
        catch (SandboxException e) when (e.Failure == RunFailure.ImageMissing)
        {
            // The image went from the engine since the preparer last confirmed it (someone pruned it): prepare
            // again, which inspects, finds it gone and loads it from the cache, then run once more.
            _preparer.ForgetConfirmed();
            model = await PrepareAsync(record, cancellationToken).ConfigureAwait(false);
            return await RunPreparedAsync(record, model, deadline, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task<Outcome> RunPreparedAsync(JobRecord record, PreparedModel model, DateTimeOffset deadline, CancellationToken cancellationToken)
    {
        JobRequest job = record.Request;
        ModelManifest manifest = model.Bundle.Manifest;
        if (!_gate.CouldEverFit(manifest.Resources, out string tooBig))
            throw new JobRejectedException(RejectReason.InsufficientResources, tooBig);

        using ResourceLease lease = await _gate.AcquireAsync(manifest.Resources, cancellationToken).ConfigureAwait(false);
        record.MoveTo(JobState.Starting);
        UpdateGauges();
        var spec = new SandboxSpec(model.Image.ImageId, job.JobId, _verifier.Node, manifest.Resources)
        {
            Entrypoint = EntrypointOf(job, manifest, out string[]? command),
            Command = command,
            GpuUuid = lease.GpuIndex >= 0 && lease.GpuIndex < GpuUuids.Count ? GpuUuids[lease.GpuIndex] : null,
        };
        var outcome = new Outcome { Model = model };
        outcome.StartedAt = _time.GetUtcNow();
        SchemaSpec outputSchema = SchemaSpec.Parse(job.OutputSchema);

        if (manifest.Protocol == ModelProtocol.Stdio)
        {
            record.MoveTo(JobState.Running);
            RunResult run = await _stdio.RunAsync(spec, Encoding.UTF8.GetBytes(job.Input), new RunLimits(deadline), cancellationToken).ConfigureAwait(false);
            outcome.Usage = run.Usage;
            if (run.Failure is { } failure)
                return outcome.Finish(failure == RunFailure.Deadline ? JobState.TimedOut : JobState.Failed, Describe(failure, run));
            ValidationResult valid = OutputExtractor.TryExtractStdio(run.Stdout, outputSchema.Kind, out ExtractedOutput output);
            if (valid.IsValid)
                valid = outputSchema.Validate(output.Value.Span);
            outcome.OutputHash = Keccak256.Hash(output.HashedBytes.Span);
            outcome.Output = output.Value.ToArray();
            return valid.IsValid ? outcome.Finish(JobState.Succeeded, null) : outcome.Finish(JobState.OutputInvalid, valid.Message);
        }

        (RestContainer container, _) = await _warm.GetAsync(model.Key, spec, manifest.Port, cancellationToken).ConfigureAwait(false);
        record.MoveTo(JobState.Running);
        long? cpuBefore = TryCpuMicros(container); // peak and OOM count are read once, after
        byte[] answer;
        try
        {
            answer = await container.InferAsync(RestInput(job), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is SandboxException or IOException)
        {
            await _warm.RecycleAsync(model.Key, container).ConfigureAwait(false);
            throw;
        }
        finally
        {
            if (!_warm.IsPooled(container))
                await container.DisposeAsync().ConfigureAwait(false);
        }

        CgroupUsage? after = TryUsage(container);
        if (cpuBefore is not null && after is not null)
            outcome.Usage = after with { CpuMicros = after.CpuMicros - cpuBefore.Value };
        ExtractedOutput restOutput = new(answer, answer);
        ValidationResult check = outputSchema.Kind == SchemaKind.Text
            ? OutputExtractor.TryExtractRest(Wrap(answer), outputSchema.Kind, out restOutput)
            : ValidationResult.Valid;
        if (check.IsValid)
            check = outputSchema.Validate(restOutput.Value.Span);
        outcome.OutputHash = Keccak256.Hash(restOutput.HashedBytes.Span);
        outcome.Output = restOutput.Value.ToArray();
        return check.IsValid ? outcome.Finish(JobState.Succeeded, null) : outcome.Finish(JobState.OutputInvalid, check.Message);
    }

    private async Task<PreparedModel> PrepareAsync(JobRecord record, CancellationToken cancellationToken)
    {
        JobRequest job = record.Request;
        if (_preparer.TryGetConfirmed(job.ModelHash, out PreparedModel? warm))
        {
            // A model confirmed moments ago takes no prepare slot, lock or timer: a warm job's fast path.
            record.ReportProgress(new PrepareProgress(PreparePhase.Ready, 0, null, 0, 0));
            _telemetry.RecordCacheHit(BundleBytes(warm!));
            return warm!;
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.PrepareTimeout);
        // One prepare per model at a time: two jobs for the same cold model raced in the cache (one job failed
        // with container.tar not found while the other was still unpacking). The second now waits and hits the cache.
        // Waiting for the model or for a prepare slot counts against the prepare timeout too.
        try
        {
            using KeyedLock.Holder sameModel = await _modelPrepares.AcquireAsync(job.ModelHash, timeout.Token).ConfigureAwait(false);
            await _prepares.WaitAsync(timeout.Token).ConfigureAwait(false);
            try
            {
                return await PrepareHeldAsync(record, timeout.Token).ConfigureAwait(false);
            }
            finally
            {
                _prepares.Release();
            }
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new FetchException($"preparing the model took longer than {_options.PrepareTimeout.TotalSeconds:0} s (the prepare timeout)");
        }
    }

    /// <summary>The prepare itself, with the model's lock and a prepare slot held; records the cache hit or the fetch.</summary>
    private async Task<PreparedModel> PrepareHeldAsync(JobRecord record, CancellationToken cancellationToken)
    {
        JobRequest job = record.Request;
        long fetched = 0;
        var progress = new InlineProgress<PrepareProgress>(p =>
        {
            if (p.Phase == PreparePhase.Fetching)
                fetched = Math.Max(fetched, p.Bytes);
            record.ReportProgress(p);
        });
        PreparedModel model = await _preparer.PrepareAsync(job.ModelHash, SourcesOf(job), progress, cancellationToken).ConfigureAwait(false);
        if (model.CacheHit)
        {
            _telemetry.RecordCacheHit(BundleBytes(model));
        }
        else
        {
            // The metrics' fetch bytes and rate (inframind_fetch_*) come from the prepare's own progress.
            _telemetry.RecordCacheMiss();
            _telemetry.RecordFetch(fetched, model.Elapsed);
        }

        return model;
    }

    /// <summary>What a cache hit served: the bundle's image archive, which a miss would have fetched.</summary>
    private static long BundleBytes(PreparedModel model)
    {
        try
        {
            return new FileInfo(model.Bundle.ImageArchive).Length;
        }
        catch (IOException)
        {
            return 0;
        }
    }

    private async Task FinishWithReceiptAsync(JobRecord record, Outcome outcome)
    {
        DateTimeOffset finished = _time.GetUtcNow();
        DateTimeOffset started = outcome.StartedAt ?? finished;
        var receipt = new Receipt(
            record.JobId,
            record.JobHash,
            record.Request.ModelHash,
            ImageDigest(outcome.Model),
            outcome.OutputHash,
            outcome.State.Code(),
            (ulong)Math.Max(0, (finished - started).TotalMilliseconds),
            (ulong)started.ToUnixTimeSeconds(),
            (ulong)finished.ToUnixTimeSeconds(),
            (ulong)Math.Max(0, (outcome.Usage?.CpuMicros ?? 0) / 1000),
            (ulong)Math.Max(0, outcome.Usage?.PeakMemoryBytes ?? 0),
            _verifier.Node,
            (ulong)finished.ToUnixTimeSeconds());
        SignedReceipt signed = _signer.Sign(receipt);
        byte[] json = signed.ToJson();
        // Awaited, not waited for: fifty jobs timing out in one second must not hold fifty pool threads while
        // their receipts share an fsync, or the requests behind them (acks) wait for a free thread.
        await _log.TryAppendAsync(signed, json).ConfigureAwait(false);
        // Durable and indexed (or logged before): the log refuses this job's replays now.
        _replay.Settled(record.JobId);
        record.Finish(outcome.State, json, outcome.Message, output: outcome.Output);
        _telemetry.RecordJobFinished(ToTelemetry(outcome.State), finished - record.ReceivedAt);
        UpdateGauges();
        Logged?.Invoke(json, record.JobId);
    }

    private void UpdateGauges()
    {
        _telemetry.SetQueueDepth(_board.QueuedCount);
        _telemetry.SetActiveJobs(_board.ActiveCount);
    }

    /// <summary>image_digest: the sha256 of the image config that ran, which is the engine's image id.</summary>
    private static Hash32 ImageDigest(PreparedModel? model)
    {
        // Hex.TryDecode, not Hash32.TryParse: the latter wants a 0x prefix, which "sha256:<hex>" never has, and
        // every receipt said 0x00…00.
        string? id = model?.Image.ImageId;
        Hash32 digest = default;
        if (id is not null && id.StartsWith("sha256:", StringComparison.Ordinal) && Hex.TryDecode(id.AsSpan(7), digest))
            return digest;
        return default;
    }

    /// <summary>
    /// The job's entrypoint (the model.yaml one when the job leaves it empty), split on spaces. A first word that is
    /// an absolute path names the program (model.yaml's "/embedder stdio"): it replaces the image's ENTRYPOINT and
    /// the rest are its arguments, as `docker run --entrypoint /embedder IMAGE stdio`. Otherwise every word is an
    /// argument to the image's own ENTRYPOINT, as `docker run IMAGE serve.py` passes it. (Passing "/embedder stdio"
    /// as arguments ran `/embedder /embedder stdio`, which every image with an ENTRYPOINT refuses.)
    /// </summary>
    private static string[]? EntrypointOf(JobRequest job, ModelManifest manifest, out string[]? command)
    {
        string? entrypoint = string.IsNullOrWhiteSpace(job.Entrypoint) ? manifest.Entrypoint : job.Entrypoint;
        string[] words = string.IsNullOrWhiteSpace(entrypoint) ? [] : entrypoint.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (words.Length > 0 && words[0].StartsWith('/'))
        {
            command = words[1..];
            return [words[0]];
        }

        command = words.Length == 0 ? null : words;
        return null;
    }

    private static List<Uri> SourcesOf(JobRequest job)
    {
        var sources = new List<Uri>();
        if (Uri.TryCreate(job.ContainerUri, UriKind.Absolute, out Uri? uri) && uri.Scheme is "http" or "https" or "ipfs")
            sources.Add(uri);
        return sources;
    }

    /// <summary>The value under "input" for a rest model: a JSON string for text, the input's own JSON otherwise.</summary>
    private static byte[] RestInput(JobRequest job)
    {
        if (SchemaSpec.Parse(job.InputSchema).Kind != SchemaKind.Text)
            return Encoding.UTF8.GetBytes(job.Input);
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
            writer.WriteStringValue(job.Input);
        return buffer.ToArray();
    }

    private static byte[] Wrap(byte[] output)
    {
        byte[] body = new byte["{\"output\":"u8.Length + output.Length + 1];
        "{\"output\":"u8.CopyTo(body);
        output.CopyTo(body.AsSpan("{\"output\":"u8.Length));
        body[^1] = (byte)'}';
        return body;
    }

    private static long? TryCpuMicros(RestContainer container) => ReadCgroup(container, static c => c.ReadCpuMicros());

    private static CgroupUsage? TryUsage(RestContainer container) => ReadCgroup(container, static c => c.ReadUsage());

    private static T? ReadCgroup<T>(RestContainer container, Func<RestContainer, T?> read)
    {
        try
        {
            return read(container);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or Errors.InfraException)
        {
            // A cgroup that went away with a dying container: the receipt says 0, the job's outcome stands.
            return default;
        }
    }

    private static string Describe(RunFailure failure, RunResult run)
    {
        string stderr = OneLine(Encoding.UTF8.GetString(run.Stderr.AsSpan(0, Math.Min(run.Stderr.Length, 300))));
        return failure switch
        {
            RunFailure.OomKilled => "the model ran out of memory (killed by its memory limit)",
            RunFailure.NonZeroExit => $"the model exited with status {run.ExitCode}" + (stderr.Length > 0 ? $": {stderr}" : string.Empty),
            RunFailure.OutputTooLarge => $"the model wrote more than the output cap ({run.StdoutBytes} bytes)",
            RunFailure.Deadline => "the deadline passed; the container was killed",
            RunFailure.LimitsNotInForce => "the container's cgroup limits were not in force; the job was not given to it",
            _ => $"the run failed: {failure}",
        };
    }

    private static JobFinalState ToTelemetry(JobState state) => state switch
    {
        JobState.Succeeded => JobFinalState.Succeeded,
        JobState.OutputInvalid => JobFinalState.OutputInvalid,
        JobState.TimedOut => JobFinalState.TimedOut,
        JobState.Cancelled => JobFinalState.Cancelled,
        JobState.Rejected => JobFinalState.Rejected,
        _ => JobFinalState.Failed,
    };

    private static string OneLine(string s) => s.ReplaceLineEndings(" ").Trim();

    private static TimeSpan Clamp(TimeSpan left) => left < TimeSpan.Zero ? TimeSpan.Zero : left > TimeSpan.FromDays(7) ? TimeSpan.FromDays(7) : left;

    private ulong Now() => (ulong)_time.GetUtcNow().ToUnixTimeSeconds();

    public async ValueTask DisposeAsync()
    {
        await DrainAsync(TimeSpan.Zero).ConfigureAwait(false);
        _shutdown.Dispose();
        _prepares.Dispose();
    }

    private sealed class Outcome
    {
        public JobState State { get; private set; } = JobState.Failed;

        public string? Message { get; private set; }

        public PreparedModel? Model { get; init; }

        public DateTimeOffset? StartedAt { get; set; }

        public CgroupUsage? Usage { get; set; }

        public Hash32 OutputHash { get; set; }

        public byte[]? Output { get; set; }

        public Outcome Finish(JobState state, string? message)
        {
            State = state;
            Message = message;
            return this;
        }

        public static Outcome Final(JobState state, string message) => new Outcome().Finish(state, message);
    }

    /// <summary>IProgress that reports on the caller's thread (Progress&lt;T&gt; posts to the thread pool and can reorder).</summary>
    private sealed class InlineProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
