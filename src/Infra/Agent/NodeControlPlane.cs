using System.Buffers;
using System.Runtime.CompilerServices;
using InfraMind.Node.Control;
using InfraMind.Node.Jobs;
using InfraMind.Node.Listener.Http;
using InfraMind.Node.Models.Cache;
using InfraMind.Node.Protos.Control;
using InfraMind.Node.Telemetry;
using JobEvent = InfraMind.Node.Protos.Control.JobEvent;
using JobState = InfraMind.Node.Jobs.JobState;
using ProtoJobState = InfraMind.Node.Protos.Control.JobState;

namespace InfraMind.Node.Agent;

/// <summary>
/// The control plane's answers (CONTRACT.md §6), read from the same telemetry, job board and cache as the
/// REST routes, so `infra status` and GET /v1/status cannot disagree.
/// </summary>
public sealed class NodeControlPlane(JobPipeline pipeline, NodeTelemetry telemetry, TelemetrySampler sampler, BundleCache cache, bool meshConfigured) : IControlPlane
{
    public StatusReply GetStatus()
    {
        TelemetrySnapshot s = telemetry.Snapshot();
        HostLoadSample host = sampler.LatestHost;
        ProcessSample? process = sampler.LatestProcess;
        return new StatusReply
        {
            NodeId = s.NodeId,
            Region = s.Region,
            Version = s.Version,
            UptimeS = (ulong)Math.Max(0, s.Uptime.TotalSeconds),
            JobsServed = (ulong)s.JobsServed,
            JobsFailed = (ulong)s.JobsFailed,
            AvgLatencyMs = s.MeanLatencyMs,
            ActiveJobs = (uint)s.ActiveJobs,
            QueueDepth = (uint)s.QueueDepth,
            CacheHitRatio = s.CacheHitRatio,
            Stake = s.Stake ?? string.Empty,
            Mesh = new MeshLink
            {
                State = !meshConfigured ? MeshState.Standalone : s.MeshState switch
                {
                    MeshLinkState.Connected => MeshState.Connected,
                    MeshLinkState.Connecting => MeshState.Connecting,
                    _ => MeshState.Backoff,
                },
                Endpoint = s.MeshEndpoint ?? string.Empty,
                LastHeartbeatAgeMs = s.HeartbeatAge is { } age ? (long)age.TotalMilliseconds : -1,
                Reconnects = (ulong)s.MeshReconnects,
                UnackedReceipts = (uint)s.UnackedReceipts,
            },
            CpuUtilization = host.CpuUtilization ?? 0,
            MemoryUtilization = host.MemoryUtilization ?? 0,
            ResidentMemoryBytes = (ulong)(process?.ResidentBytes ?? 0),
            Draining = pipeline.Draining,
        };
    }

    public ListJobsReply ListJobs(ListJobsRequest request)
    {
        int limit = request.Limit == 0 ? 100 : (int)Math.Min(request.Limit, 1000);
        var reply = new ListJobsReply();
        foreach (JobRecord job in pipeline.Board.List(int.MaxValue))
        {
            if (!request.IncludeFinished && job.State.IsFinal())
                continue;
            reply.Jobs.Add(Summary(job));
            if (reply.Jobs.Count >= limit)
                break;
        }

        return reply;
    }

    public async IAsyncEnumerable<JobEvent> WatchJobs(WatchJobsRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var reader = pipeline.Board.Watch(cancellationToken);
        var previous = new Dictionary<string, JobState>(StringComparer.Ordinal);
        if (request.IncludeActive)
        {
            foreach (JobRecord job in pipeline.Board.Unfinished())
            {
                previous[job.JobId] = job.State;
                yield return new JobEvent { TimestampMs = Ms(DateTimeOffset.UtcNow), PreviousState = ProtoJobState.Unspecified, Job = Summary(job) };
            }
        }

        while (await reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
        {
            while (reader.TryRead(out Jobs.JobEvent? change))
            {
                if (change.Progress is not null || !pipeline.Board.TryGet(change.JobId, out JobRecord? job))
                    continue;
                ProtoJobState before = previous.TryGetValue(change.JobId, out JobState was) ? Proto(was) : ProtoJobState.Unspecified;
                previous[change.JobId] = change.State;
                if (change.State.IsFinal())
                    previous.Remove(change.JobId);
                JobSummary summary = Summary(job!);
                summary.State = Proto(change.State);
                yield return new JobEvent { TimestampMs = Ms(change.At), PreviousState = before, Job = summary };
            }
        }
    }

    public DrainReply Drain(DrainRequest request)
    {
        if (request.Resume)
            pipeline.Resume();
        else
            pipeline.BeginDrain();
        return new DrainReply { Draining = pipeline.Draining, ActiveJobs = (uint)pipeline.Board.ActiveCount, QueuedJobs = (uint)pipeline.Board.QueuedCount };
    }

    public ListCacheReply ListCache()
    {
        var reply = new ListCacheReply { TotalBytes = (ulong)cache.TotalBytes, BudgetBytes = (ulong)cache.BudgetBytes };
        foreach (Models.Cache.CacheEntry entry in cache.List())
            reply.Entries.Add(Proto(entry));
        return reply;
    }

    public PruneCacheReply PruneCache(PruneCacheRequest request)
    {
        var reply = new PruneCacheReply();
        foreach (Models.Cache.CacheEntry entry in cache.Prune((long)Math.Min(request.TargetBytes, long.MaxValue)))
            reply.Evicted.Add(Proto(entry));
        reply.TotalBytes = (ulong)cache.TotalBytes;
        return reply;
    }

    private static Protos.Control.CacheEntry Proto(Models.Cache.CacheEntry entry) => new()
    {
        Key = entry.Key,
        Bytes = (ulong)entry.Bytes,
        Uses = (ulong)entry.Uses,
        LastUsedMs = (ulong)entry.LastUsedUnixMs,
        Pinned = entry.Pinned,
        Image = entry.ImageName ?? entry.ImageId ?? string.Empty,
    };

    private static JobSummary Summary(JobRecord job) => new()
    {
        JobId = job.JobId,
        State = Proto(job.State),
        ModelHash = job.Request.ModelHash,
        Source = "rest",
        AcceptedAtMs = Ms(job.ReceivedAt),
        StartedAtMs = job.StartedAt is { } s ? Ms(s) : 0,
        FinishedAtMs = job.FinishedAt is { } f ? Ms(f) : 0,
        Deadline = job.Request.Deadline,
        Detail = job.Message ?? string.Empty,
    };

    private static ProtoJobState Proto(JobState state) => (ProtoJobState)((int)state + 1);

    private static ulong Ms(DateTimeOffset at) => (ulong)Math.Max(0, at.ToUnixTimeMilliseconds());
}

/// <summary>The control socket's HTTP handler: gRPC-Web requests go to <see cref="ControlService"/>.</summary>
public sealed class ControlEndpoint(ControlService service) : IHttpHandler
{
    public async ValueTask HandleAsync(HttpExchange exchange, CancellationToken ct)
    {
        string path = exchange.Path;
        int status = ControlService.CheckRequest(exchange.Method.ToString().ToUpperInvariant(), path, exchange.ContentType);
        if (status != 200)
        {
            exchange.WriteError(status, status switch { 404 => "not_found", 405 => "method_not_allowed", _ => "wrong_content_type" },
                $"the control socket speaks gRPC-Web (application/grpc-web+proto) at {ControlService.ServicePath}<Method>");
            return;
        }

        byte[] body = await exchange.ReadBodyAsync(ControlService.MaxRequestBodyBytes, ct).ConfigureAwait(false);
        exchange.StartStreaming("application/grpc-web+proto");
        await service.HandleAsync(path, new ReadOnlySequence<byte>(body), new Sink(exchange), ct).ConfigureAwait(false);
    }

    private sealed class Sink(HttpExchange exchange) : IGrpcWebResponse
    {
        public ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken) => exchange.WriteAsync(data, cancellationToken);

        public ValueTask FlushAsync(CancellationToken cancellationToken) => exchange.FlushAsync(cancellationToken);
    }
}
