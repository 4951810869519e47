using System.Threading.Channels;
using InfraMind.Node.Crypto;
using InfraMind.Node.Jobs.Intake;
using InfraMind.Node.Models;

namespace InfraMind.Node.Jobs;

/// <summary>A change in a job's life, as watchers (`infra jobs watch`, WatchJobs) see it.</summary>
public sealed record JobEvent(string JobId, JobState State, DateTimeOffset At, string? Message, PrepareProgress? Progress);

/// <summary>
/// One job the node has accepted: its request, its state and timestamps, and, once final, its receipt.
/// State moves only forward; every change is published to the board's watchers.
/// </summary>
public sealed class JobRecord
{
    private readonly JobBoard _board;
    private readonly Lock _lock = new();
    // Continuations run on the finishing thread: the one waiter, a `?wait=true` request, only writes its answer,
    // and a hop to another pool thread cost a wake-up (about 50 µs) on every waited job.
    private readonly TaskCompletionSource _finished = new();

    internal JobRecord(JobBoard board, VerifiedJob job)
    {
        _board = board;
        Request = job.Request;
        JobHash = job.JobHash;
        ReceivedAt = job.ReceivedAt;
        StateChangedAt = job.ReceivedAt;
    }

    public JobRequest Request { get; }

    public string JobId => Request.JobId;

    public Hash32 JobHash { get; }

    public DateTimeOffset ReceivedAt { get; }

    public JobState State { get; private set; } = JobState.Queued;

    public DateTimeOffset StateChangedAt { get; private set; }

    public DateTimeOffset? PrepareStartedAt { get; private set; }

    public DateTimeOffset? StartedAt { get; private set; }

    public DateTimeOffset? FinishedAt { get; private set; }

    /// <summary>Why it failed or was rejected, in one line; null while all is well.</summary>
    public string? Message { get; private set; }

    public RejectReason? RejectReason { get; private set; }

    public PrepareProgress? Progress { get; private set; }

    /// <summary>The signed receipt's JSON (or the signed rejection's), once the job is final.</summary>
    public byte[]? ReceiptJson { get; private set; }

    /// <summary>The model's output value (JSON text, or the text for a `text` schema) once the job ran.</summary>
    public byte[]? Output { get; private set; }

    /// <summary>The board let go of <see cref="Output"/> to keep finished jobs' outputs within its byte budget.</summary>
    public bool OutputReleased { get; private set; }

    /// <summary>Cancels the job's work: `infra drain`, a mesh cancel, or DELETE.</summary>
    public CancellationTokenSource Cancellation { get; } = new();

    /// <summary>Completes when the job reaches a final state and its receipt is logged.</summary>
    public Task Finished => _finished.Task;

    internal void MoveTo(JobState state, string? message = null)
    {
        JobEvent change;
        lock (_lock)
        {
            if (State.IsFinal() || state < State)
                return;
            DateTimeOffset now = _board.Time.GetUtcNow();
            State = state;
            StateChangedAt = now;
            if (state == JobState.Preparing)
                PrepareStartedAt = now;
            else if (state == JobState.Starting)
                StartedAt = now;
            if (message is not null)
                Message = message;
            change = new JobEvent(JobId, state, now, message, null);
        }

        _board.Publish(change);
    }

    internal void ReportProgress(PrepareProgress progress)
    {
        Progress = progress;
        _board.Publish(new JobEvent(JobId, JobState.Preparing, _board.Time.GetUtcNow(), null, progress));
    }

    /// <summary>Makes the job final with its logged receipt (or rejection) and wakes whoever waits for it.</summary>
    internal void Finish(JobState state, byte[] receiptJson, string? message, RejectReason? reason = null, byte[]? output = null)
    {
        JobEvent change;
        lock (_lock)
        {
            if (State.IsFinal())
                return;
            DateTimeOffset now = _board.Time.GetUtcNow();
            State = state;
            StateChangedAt = now;
            FinishedAt = now;
            Message = message ?? Message;
            RejectReason = reason;
            ReceiptJson = receiptJson;
            Output = output;
            change = new JobEvent(JobId, state, now, Message, null);
        }

        _board.Publish(change);
        _board.Retire(this);
        _finished.TrySetResult();
    }

    /// <summary>Drops the output (the receipt, which names its hash, stays); the bytes let go.</summary>
    internal int ReleaseOutput()
    {
        lock (_lock)
        {
            int bytes = Output?.Length ?? 0;
            if (bytes > 0)
            {
                Output = null;
                OutputReleased = true;
            }

            return bytes;
        }
    }
}

/// <summary>
/// Every job the node knows in this run: the live ones and a bounded history of finished ones, plus the
/// watchers of their events. Watchers get a bounded channel each; one that stops reading loses old
/// events, never blocks a job. Finished jobs keep their outputs for <c>GET /v1/jobs/{id}</c> up to
/// <paramref name="outputHistoryBytes"/> in all, the oldest let go first: a thousand finished jobs with outputs at the
/// runners' 16 MiB cap would otherwise hold 16 GB.
/// </summary>
public sealed class JobBoard(TimeProvider time, int historyLimit = 1000, long outputHistoryBytes = JobBoard.DefaultOutputHistoryBytes)
{
    /// <summary>Twice the runners' output cap (16 MiB): the latest two outputs are always kept, whatever their size.</summary>
    public const long DefaultOutputHistoryBytes = 32L << 20;

    private readonly Dictionary<string, JobRecord> _jobs = new(StringComparer.Ordinal);
    // The unfinished ones apart: the counts below run several times per job and must not walk the history.
    private readonly HashSet<JobRecord> _live = [];
    private readonly Queue<string> _finishedOrder = new();
    // Finished jobs still holding an output, in the order they finished (the history's order too), and their bytes.
    private readonly Queue<JobRecord> _holdingOutput = new();
    private long _outputBytes;
    private readonly List<Channel<JobEvent>> _watchers = [];
    private readonly Lock _lock = new();

    public TimeProvider Time => time;

    public JobRecord Add(VerifiedJob job)
    {
        var record = new JobRecord(this, job);
        lock (_lock)
        {
            _jobs[job.Request.JobId] = record;
            _live.Add(record);
        }

        Publish(new JobEvent(record.JobId, JobState.Queued, job.ReceivedAt, null, null));
        return record;
    }

    public bool TryGet(string jobId, out JobRecord? record)
    {
        lock (_lock)
            return _jobs.TryGetValue(jobId, out record);
    }

    /// <summary>The jobs, newest first.</summary>
    public IReadOnlyList<JobRecord> List(int limit = 100)
    {
        lock (_lock)
            return _jobs.Values.OrderByDescending(j => j.ReceivedAt).Take(limit).ToList();
    }

    public int ActiveCount
    {
        get
        {
            lock (_lock)
                return _live.Count(j => j.State is JobState.Starting or JobState.Running);
        }
    }

    public int QueuedCount
    {
        get
        {
            lock (_lock)
                return _live.Count(j => j.State is JobState.Queued or JobState.Preparing);
        }
    }

    /// <summary>Jobs not yet final: what a drain waits for.</summary>
    public IReadOnlyList<JobRecord> Unfinished()
    {
        lock (_lock)
            return _live.Where(j => !j.State.IsFinal()).ToList();
    }

    /// <summary>How many jobs are not yet final.</summary>
    public int UnfinishedCount
    {
        get
        {
            lock (_lock)
                return _live.Count;
        }
    }

    public ChannelReader<JobEvent> Watch(CancellationToken cancellationToken)
    {
        var channel = Channel.CreateBounded<JobEvent>(new BoundedChannelOptions(256)
        {
            FullMode = BoundedChannelFullMode.DropOldest,
            SingleReader = true,
        });
        lock (_lock)
            _watchers.Add(channel);
        cancellationToken.Register(() =>
        {
            lock (_lock)
                _watchers.Remove(channel);
            channel.Writer.TryComplete();
        });
        return channel.Reader;
    }

    internal void Publish(JobEvent change)
    {
        lock (_lock)
        {
            foreach (Channel<JobEvent> watcher in _watchers)
                watcher.Writer.TryWrite(change);
        }
    }

    internal void Retire(JobRecord record)
    {
        lock (_lock)
        {
            _live.Remove(record);
            _finishedOrder.Enqueue(record.JobId);
            if (record.Output is { Length: > 0 } output)
            {
                _holdingOutput.Enqueue(record);
                _outputBytes += output.Length;
            }

            while (_finishedOrder.Count > historyLimit)
            {
                string old = _finishedOrder.Dequeue();
                if (_jobs.TryGetValue(old, out JobRecord? gone) && gone.State.IsFinal())
                {
                    _jobs.Remove(old);
                    // Both queues run in finish order: a job leaving the history is at the front of the other, if in it.
                    if (_holdingOutput.TryPeek(out JobRecord? oldest) && oldest == gone)
                        _outputBytes -= _holdingOutput.Dequeue().ReleaseOutput();
                }
            }

            // The newest output stays even alone over the budget: its ?wait=true answer is being written.
            while (_outputBytes > outputHistoryBytes && _holdingOutput.Count > 1)
                _outputBytes -= _holdingOutput.Dequeue().ReleaseOutput();
        }
    }
}
