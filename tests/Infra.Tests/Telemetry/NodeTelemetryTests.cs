using InfraMind.Node.Telemetry;

namespace InfraMind.Node.Tests.Telemetry;

public sealed class NodeTelemetryTests
{
    private static readonly DateTimeOffset Start = new(2026, 1, 2, 3, 4, 5, TimeSpan.Zero);

    private readonly FakeTime _time = new(Start);

    private NodeTelemetry Make() => new("0xB71c3f0000000000000000000000000000000001", "europe-west", "0.1.0", Start, _time);

    [Fact]
    public void Counts_jobs_by_state_and_derives_served_and_failed()
    {
        NodeTelemetry t = Make();
        t.RecordJobFinished(JobFinalState.Succeeded, TimeSpan.FromMilliseconds(100));
        t.RecordJobFinished(JobFinalState.Succeeded, TimeSpan.FromMilliseconds(300));
        t.RecordJobFinished(JobFinalState.OutputInvalid, TimeSpan.FromMilliseconds(200));
        t.RecordJobFinished(JobFinalState.Failed, TimeSpan.FromSeconds(1));
        t.RecordJobFinished(JobFinalState.TimedOut, TimeSpan.FromSeconds(60));
        t.RecordJobFinished(JobFinalState.Cancelled, TimeSpan.FromSeconds(5));
        t.RecordRejection(RejectionReason.QueueFull);

        TelemetrySnapshot s = t.Snapshot();
        Assert.Equal(2, s.Jobs(JobFinalState.Succeeded));
        Assert.Equal(1, s.Jobs(JobFinalState.Rejected));
        Assert.Equal(1, s.Jobs(JobFinalState.Cancelled));
        Assert.Equal(5, s.JobsServed); // cancelled and rejected never reach a receipt
        Assert.Equal(2, s.JobsSucceeded);
        Assert.Equal(3, s.JobsFailed);
        Assert.Equal(5, s.Latency.Count); // cancelled is not observed
        Assert.Equal(61.6, s.Latency.SumSeconds, 9);
        Assert.Equal((100 + 300 + 200 + 1000 + 60000) / 5.0, s.MeanLatencyMs, 9);
        Assert.Equal(5, s.MeanLatencyJobs);
        Assert.Equal(6, s.RecentOutcomes.Length);
        Assert.Equal(JobFinalState.Cancelled, s.RecentOutcomes[^1].State);
    }

    [Fact]
    public void Rejections_count_by_reason_and_unknown_codes_fold_into_other()
    {
        NodeTelemetry t = Make();
        Assert.True(t.RecordRejection("bad_signature"));
        Assert.True(t.RecordRejection("bad_signature"));
        Assert.False(t.RecordRejection("Bad_Signature")); // exact match only
        Assert.False(t.RecordRejection("x\"} 1\nevil_metric 9"));
        t.RecordRejection((RejectionReason)999);

        TelemetrySnapshot s = t.Snapshot();
        Assert.Equal(2, s.Rejections(RejectionReason.BadSignature));
        Assert.Equal(3, s.Rejections(RejectionReason.Other));
        Assert.Equal(5, s.Jobs(JobFinalState.Rejected));
        Assert.Equal(TelemetryCodes.RejectionReasonCount, s.RejectionsByReason.Length);
    }

    [Fact]
    public void A_rejection_through_RecordJobFinished_is_refused()
    {
        NodeTelemetry t = Make();
        Assert.Throws<ArgumentException>(() => t.RecordJobFinished(JobFinalState.Rejected, TimeSpan.Zero));
        Assert.Throws<ArgumentException>(() => t.RecordJobFinished((JobFinalState)42, TimeSpan.Zero));
        Assert.Equal(0, t.Snapshot().Jobs(JobFinalState.Rejected));
    }

    [Fact]
    public void Histogram_bounds_are_inclusive_and_cumulative()
    {
        var h = new LatencyHistogram();
        h.Observe(TimeSpan.FromMilliseconds(10));     // exactly on 0.01: le="0.01"
        h.Observe(TimeSpan.FromMilliseconds(10.001)); // just above: le="0.025"
        h.Observe(TimeSpan.FromMinutes(10));          // exactly 600
        h.Observe(TimeSpan.FromMinutes(11));          // only +Inf
        h.Observe(TimeSpan.FromSeconds(-3));          // clock stepped back: counts as 0

        LatencyHistogramSnapshot s = h.Snapshot();
        Assert.Equal(16, s.CumulativeCounts.Length);
        Assert.Equal(15, s.UpperBoundsSeconds.Length);
        Assert.Equal(2, s.CumulativeCounts[0]);
        Assert.Equal(3, s.CumulativeCounts[1]);
        Assert.Equal(3, s.CumulativeCounts[13]);
        Assert.Equal(4, s.CumulativeCounts[14]);
        Assert.Equal(5, s.CumulativeCounts[15]);
        Assert.Equal(5, s.Count);
        Assert.Equal(0.01 + 0.010001 + 600 + 660, s.SumSeconds, 6);
        for (int i = 1; i < s.CumulativeCounts.Length; i++)
            Assert.True(s.CumulativeCounts[i] >= s.CumulativeCounts[i - 1]);
    }

    [Fact]
    public void Mean_latency_covers_only_the_last_50_served_jobs()
    {
        NodeTelemetry t = Make();
        for (int i = 1; i <= 120; i++)
            t.RecordJobFinished(JobFinalState.Succeeded, TimeSpan.FromMilliseconds(i));
        t.RecordJobFinished(JobFinalState.Cancelled, TimeSpan.FromHours(1)); // not in the mean

        TelemetrySnapshot s = t.Snapshot();
        Assert.Equal(50, s.MeanLatencyJobs);
        Assert.Equal(Enumerable.Range(71, 50).Average(), s.MeanLatencyMs, 9);
        Assert.Equal(NodeTelemetry.OutcomeHistory, s.RecentOutcomes.Length);
        Assert.Equal(TimeSpan.FromMilliseconds(120), s.RecentOutcomes[^2].Latency);
        Assert.Equal(TimeSpan.FromMilliseconds(120 - NodeTelemetry.OutcomeHistory + 2), s.RecentOutcomes[0].Latency);
    }

    [Fact]
    public void Empty_telemetry_reports_zeros_not_NaN()
    {
        TelemetrySnapshot s = Make().Snapshot();
        Assert.Equal(0, s.MeanLatencyMs);
        Assert.Equal(0, s.CacheHitRatio);
        Assert.Equal(0, s.JobsServed);
        Assert.Null(s.HeartbeatAge);
        Assert.Null(s.LastHeartbeatAt);
        Assert.Empty(s.RecentOutcomes);
        Assert.Equal(MeshLinkState.Disconnected, s.MeshState);
        Assert.Equal(0, s.Latency.Count);
    }

    [Fact]
    public void Outcome_history_carries_timestamps_in_order()
    {
        NodeTelemetry t = Make();
        t.RecordJobFinished(JobFinalState.Succeeded, TimeSpan.FromSeconds(1));
        _time.Advance(TimeSpan.FromSeconds(10));
        t.RecordJobFinished(JobFinalState.Failed, TimeSpan.FromSeconds(2));

        TelemetrySnapshot s = t.Snapshot();
        Assert.Equal([Start, Start.AddSeconds(10)], s.RecentOutcomes.Select(o => o.FinishedAt));
        Assert.Equal([JobFinalState.Succeeded, JobFinalState.Failed], s.RecentOutcomes.Select(o => o.State));
    }

    [Fact]
    public void Cache_and_fetch_figures()
    {
        NodeTelemetry t = Make();
        t.RecordCacheHit(1000);
        t.RecordCacheHit(500);
        t.RecordCacheHit(0);
        t.RecordCacheMiss();
        t.RecordFetch(8_000_000, TimeSpan.FromSeconds(2)); // 4 MB/s
        t.RecordFetch(1_000_000, TimeSpan.FromSeconds(1)); // 1 MB/s
        t.RecordFetch(5, TimeSpan.Zero);                   // bytes count, no rate
        Assert.Throws<ArgumentOutOfRangeException>(() => t.RecordFetch(-1, TimeSpan.FromSeconds(1)));

        TelemetrySnapshot s = t.Snapshot();
        Assert.Equal(3, s.CacheHits);
        Assert.Equal(1, s.CacheMisses);
        Assert.Equal(1500, s.CacheBytesServed);
        Assert.Equal(0.75, s.CacheHitRatio);
        Assert.Equal(9_000_005, s.FetchBytes);
        Assert.Equal(1_000_000, s.LastFetchRateBytesPerSecond);
        Assert.Equal(3_000_000, s.RollingFetchRateBytesPerSecond); // 9 MB over 3 s
    }

    [Fact]
    public void Rolling_fetch_rate_forgets_fetches_older_than_the_window()
    {
        NodeTelemetry t = Make();
        t.RecordFetch(1_000_000_000, TimeSpan.FromSeconds(1));
        for (int i = 0; i < NodeTelemetry.FetchWindow; i++)
            t.RecordFetch(100, TimeSpan.FromSeconds(1));
        Assert.Equal(100, t.Snapshot().RollingFetchRateBytesPerSecond);
    }

    [Fact]
    public void Mesh_gauges_uptime_and_heartbeat_age_follow_the_clock()
    {
        NodeTelemetry t = Make();
        t.SetMeshState(MeshLinkState.Connecting);
        t.RecordReconnect();
        t.RecordReconnect();
        t.SetMeshState(MeshLinkState.Connected);
        t.RecordHeartbeat();
        _time.Advance(TimeSpan.FromSeconds(7.5));
        t.SetUnackedReceipts(3);
        t.SetStake("512 INFRA");
        t.SetIdleWithoutJobs(true);
        t.SetQueueDepth(4);
        t.SetActiveJobs(2);
        t.SetActiveJobs(-1); // a pipeline bug must not show negative jobs

        TelemetrySnapshot s = t.Snapshot();
        Assert.True(s.MeshConnected);
        Assert.Equal(2, s.MeshReconnects);
        Assert.Equal(TimeSpan.FromSeconds(7.5), s.HeartbeatAge);
        Assert.Equal(Start, s.LastHeartbeatAt);
        Assert.Equal(TimeSpan.FromSeconds(7.5), s.Uptime);
        Assert.Equal(3, s.UnackedReceipts);
        Assert.Equal("512 INFRA", s.Stake);
        Assert.True(s.IdleWithoutJobs);
        Assert.Equal(4, s.QueueDepth);
        Assert.Equal(0, s.ActiveJobs);
        Assert.Equal("europe-west", s.Region);
    }

    [Fact]
    public void Many_threads_lose_no_count()
    {
        NodeTelemetry t = Make();
        const int threads = 8;
        const int perThread = 20_000;
        using var go = new ManualResetEventSlim();
        var workers = new Thread[threads];
        for (int w = 0; w < threads; w++)
        {
            int id = w;
            workers[w] = new Thread(() =>
            {
                go.Wait();
                for (int i = 0; i < perThread; i++)
                {
                    t.RecordCacheHit(3);
                    t.RecordCacheMiss();
                    t.RecordRejection((RejectionReason)(i % TelemetryCodes.RejectionReasonCount));
                    if (i % 10 == 0)
                        t.RecordJobFinished(JobFinalState.Succeeded, TimeSpan.FromMilliseconds(id + 1));
                    if (i % 100 == 0)
                        _ = t.Snapshot(); // readers interleaved with writers
                }
            });
            workers[w].Start();
        }

        go.Set();
        foreach (Thread worker in workers)
            worker.Join();

        TelemetrySnapshot s = t.Snapshot();
        Assert.Equal(threads * perThread, s.CacheHits);
        Assert.Equal(threads * perThread, s.CacheMisses);
        Assert.Equal(3L * threads * perThread, s.CacheBytesServed);
        Assert.Equal(threads * perThread, s.Jobs(JobFinalState.Rejected));
        Assert.Equal(threads * perThread, s.RejectionsByReason.Sum());
        long served = threads * (perThread / 10);
        Assert.Equal(served, s.Jobs(JobFinalState.Succeeded));
        Assert.Equal(served, s.Latency.Count);
        // Each thread observed a distinct whole number of ms, so the sum is exact.
        double expectedSum = Enumerable.Range(1, threads).Sum(ms => ms * (perThread / 10) / 1000.0);
        Assert.Equal(expectedSum, s.Latency.SumSeconds, 9);
        Assert.Equal(50, s.MeanLatencyJobs);
    }

    [Fact]
    public void Codes_round_trip_through_their_wire_names()
    {
        for (int i = 0; i < TelemetryCodes.RejectionReasonCount; i++)
        {
            var reason = (RejectionReason)i;
            Assert.True(TelemetryCodes.TryParseReason(TelemetryCodes.Name(reason), out RejectionReason parsed));
            Assert.Equal(reason, parsed);
        }

        for (int i = 0; i < TelemetryCodes.JobStateCount; i++)
        {
            var state = (JobFinalState)i;
            Assert.True(TelemetryCodes.TryParseState(TelemetryCodes.Name(state), out JobFinalState parsed));
            Assert.Equal(state, parsed);
        }

        Assert.False(TelemetryCodes.TryParseState("running", out _));
        Assert.Equal("timed_out", TelemetryCodes.Name(JobFinalState.TimedOut));
        Assert.Equal("connected", TelemetryCodes.Name(MeshLinkState.Connected));
        Assert.Throws<ArgumentException>(() => TelemetryCodes.Name((RejectionReason)77));
    }
}
