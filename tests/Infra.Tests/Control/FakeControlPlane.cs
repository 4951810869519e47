using System.Buffers;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Grpc.Core;
using InfraMind.Node.Control;
using InfraMind.Node.Protos.Control;

namespace InfraMind.Node.Tests.Control;

/// <summary>A hand-written IControlPlane: fixed answers, and job events the test pushes one at a time.</summary>
internal sealed class FakeControlPlane : IControlPlane
{
    private readonly Channel<JobEvent> _events = Channel.CreateUnbounded<JobEvent>();

    public StatusReply Status { get; set; } = SeedStatus();

    public Exception? Failure { get; set; }

    public ListJobsRequest? LastListJobs { get; private set; }

    public int WatchersStarted;

    public int WatchersEnded;

    public static StatusReply SeedStatus() => new()
    {
        NodeId = "0xB71c3f4A5b6C7d8E9f0A1b2C3d4E5f6A7b8C9d0E",
        Region = "europe-west",
        Version = "0.1.0",
        UptimeS = (3 * 86400) + (4 * 3600) + (12 * 60) + 7,
        JobsServed = 1284,
        JobsFailed = 3,
        AvgLatencyMs = 182.4,
        ActiveJobs = 2,
        QueueDepth = 5,
        CacheHitRatio = 0.875,
        Stake = "512 INFRA",
        Mesh = new MeshLink { State = MeshState.Connected, Endpoint = "https://sched.example:443", LastHeartbeatAgeMs = 1200, Reconnects = 3, UnackedReceipts = 1 },
        CpuUtilization = 0.25,
        MemoryUtilization = 0.5,
        ResidentMemoryBytes = 45 * 1024 * 1024,
    };

    public void Push(JobEvent e) => _events.Writer.TryWrite(e);

    public StatusReply GetStatus()
    {
        if (Failure is not null)
            throw Failure;
        return Status;
    }

    public ListJobsReply ListJobs(ListJobsRequest request)
    {
        LastListJobs = request;
        var reply = new ListJobsReply();
        reply.Jobs.Add(new JobSummary { JobId = "a6b4-23fa", State = JobState.Running, ModelHash = "sha256:ab", Source = "mesh", AcceptedAtMs = 1_700_000_000_000 });
        return reply;
    }

    public async IAsyncEnumerable<JobEvent> WatchJobs(WatchJobsRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref WatchersStarted);
        try
        {
            while (true)
            {
                JobEvent e = await _events.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);
                if (e.Job is null)
                    yield break; // a test's "end of stream" marker
                yield return e;
            }
        }
        finally
        {
            Interlocked.Increment(ref WatchersEnded);
        }
    }

    public DrainReply Drain(DrainRequest request)
    {
        if (request.Resume)
            throw new ControlPlaneException(StatusCode.FailedPrecondition, "the agent is not draining; nothing to resume");
        return new DrainReply { Draining = true, ActiveJobs = 2, QueuedJobs = 1 };
    }

    public ListCacheReply ListCache() => new() { TotalBytes = 10, BudgetBytes = 100 };

    public PruneCacheReply PruneCache(PruneCacheRequest request) => new() { TotalBytes = request.TargetBytes };
}

/// <summary>Collects what ControlService writes; optionally fails like a dropped connection.</summary>
internal sealed class RecordingSink : IGrpcWebResponse
{
    private readonly ArrayBufferWriter<byte> _written = new();

    public int Flushes { get; private set; }

    public bool FailWrites { get; set; }

    public ReadOnlySequence<byte> Body => new(_written.WrittenMemory);

    public ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        if (FailWrites)
            throw new IOException("connection reset by peer");
        _written.Write(data.Span);
        return ValueTask.CompletedTask;
    }

    public ValueTask FlushAsync(CancellationToken cancellationToken)
    {
        Flushes++;
        return ValueTask.CompletedTask;
    }

    /// <summary>The data frames' payloads and the trailer's status and message; fails the test on a malformed body.</summary>
    public (List<byte[]> Messages, StatusCode Status, string Message) Parse()
    {
        ReadOnlySequence<byte> body = Body;
        var messages = new List<byte[]>();
        while (true)
        {
            GrpcWebReadResult result = GrpcWeb.TryReadFrame(ref body, GrpcWeb.MaxMessageBytes, out GrpcWebFrame frame, out GrpcWebFrameError error);
            Assert.True(result == GrpcWebReadResult.Frame, $"the response body is malformed: {result} {error}");
            if (frame.IsTrailer)
            {
                Assert.True(body.IsEmpty, "bytes after the trailer frame");
                Assert.True(GrpcWeb.TryParseTrailer(frame.Payload, out StatusCode status, out string message));
                return (messages, status, message);
            }

            messages.Add(frame.Payload.ToArray());
        }
    }
}
