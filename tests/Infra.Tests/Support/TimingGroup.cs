namespace InfraMind.Node.Tests.Support;

/// <summary>
/// Tests that measure time on the test process's own timers, and tests that load the process, run alone: never in
/// parallel with each other or with any other test.
/// <list type="bullet">
/// <item>The mesh's heartbeat-pacing, ack-latency and stall checks: the real-node test builds images and runs containers
/// in the same process, which delayed them (a stalled stream replaced 3,125 ms after the stall in a fresh-clone CI run;
/// 2,521 ms alone; the bound was 3,000; the stall test now runs on a 2 s heartbeat, bound 6,000).</item>
/// <item>The listener's timeouts and latency beside the hostile suite, and wrk/h2load against an in-process server. The
/// server's timers share the thread pool with every test; wrk's load queued work ahead of them, and the pool recorded
/// starvation while the trickled-head test ran (a CI run saw its 408 at 2,405 ms for a 600 ms header timeout, another
/// a request beside the hostile suite at 1,011 ms).</item>
/// </list>
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TimingGroup
{
    public const string Name = "timing";
}
