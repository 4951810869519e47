using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace InfraMind.Node.JobBench;

/// <summary>
/// Benchmark 1, accept-to-ack latency: time from the last byte of POST /v1/jobs sent to the whole 202 answer
/// read, over N jobs after a warm-up, on one keep-alive connection; interleaved with GET /healthz on the same
/// connection (the floor of an HTTP round trip to this node), alternating which goes first.
/// Modes: <c>held</c> (default): the job's bundle URL is one the bench's server never answers, so each job
/// really is accepted (202, verified, queued) but then waits in `preparing` off the engine until its short
/// deadline times it out (a signed timed_out receipt); submissions are paced so the unfinished jobs stay far
/// under the 256-job queue limit. <c>stdio</c>: real stdio embedder jobs, each run to its end before the next
/// is sent, so no container runs while an ack is measured (slow: about one container lifecycle per job).
/// </summary>
internal static class AckBench
{
    public static async Task<string> RunAsync(BenchContext context, CancellationToken ct)
    {
        Options o = context.Options;
        Bundle stdio = context.Bundles["stdio"];
        using var client = RawHttpClient.Tcp(context.Node.EndPoint);
        byte[] health = RawHttpClient.Get(client.Host, "/healthz");
        var acks = new List<double>();
        var healths = new List<double>();
        var totals = new List<double>();
        var raw = new StringBuilder("index,measured,ack_after_last_byte_us,ack_total_us,healthz_after_last_byte_us\n");
        int total = o.AckWarmup + o.AckJobs;
        int maxPending = 0;
        var clock = Stopwatch.StartNew();
        string load = Program.LoadAverage();

        for (int i = 0; i < total; i++)
        {
            bool held = o.AckMode == "held";
            ulong deadline = (ulong)DateTimeOffset.UtcNow.ToUnixTimeSeconds() + (held ? (ulong)o.AckDeadlineSeconds : 600);
            string jobId = $"{context.RunTag}-ack-{i.ToString(CultureInfo.InvariantCulture)}";
            string uri = held ? context.Server.HeldUri(jobId + ".tar.gz") : context.Server.FileUri(stdio.Archive);
            // A model hash nobody has in the cache for held jobs, so the node goes to the (held) fetch.
            string modelHash = held ? "sha256:" + new string('e', 64) : stdio.ModelHash;
            byte[] request = RawHttpClient.PostJson(client.Host, "/v1/jobs", context.Scheduler.Job(context.Node.NodeId, jobId, modelHash, uri, o.StdioEntrypoint, $"ack benchmark job {i}", deadline));

            RawResponse ack, ok;
            if (i % 2 == 0)
            {
                ok = await client.SendAsync(health, ct).ConfigureAwait(false);
                ack = await client.SendAsync(request, ct).ConfigureAwait(false);
            }
            else
            {
                ack = await client.SendAsync(request, ct).ConfigureAwait(false);
                ok = await client.SendAsync(health, ct).ConfigureAwait(false);
            }

            if (ack.Status != 202)
                throw new InvalidOperationException($"job {jobId}: POST /v1/jobs answered {ack.Status}, not 202: {ack.Text}");
            if (ok.Status != 200)
                throw new InvalidOperationException($"GET /healthz answered {ok.Status}");
            bool measured = i >= o.AckWarmup;
            if (measured)
            {
                acks.Add(ack.AfterLastByteUs);
                totals.Add(ack.TotalUs);
                healths.Add(ok.AfterLastByteUs);
            }

            raw.Append(CultureInfo.InvariantCulture, $"{i},{(measured ? 1 : 0)},{ack.AfterLastByteUs:0.0},{ack.TotalUs:0.0},{ok.AfterLastByteUs:0.0}\n");

            if (held)
            {
                // Pace: job i+1 goes out at its slot; the sleep is outside every timed request.
                TimeSpan next = TimeSpan.FromMilliseconds(o.AckIntervalMs * (i + 1)) - clock.Elapsed;
                if (next > TimeSpan.Zero)
                    await Task.Delay(next, ct).ConfigureAwait(false);
                if (i % 100 == 99)
                    maxPending = Math.Max(maxPending, await Program.UnfinishedAsync(client, ct).ConfigureAwait(false));
            }
            else
            {
                await Program.WaitFinalAsync(client, jobId, ct).ConfigureAwait(false);
            }

            if (i % 50 == 49)
                Console.Write('.');
        }

        double seconds = clock.Elapsed.TotalSeconds;
        Console.WriteLine($" {seconds:0.0} s");
        if (o.AckMode == "held")
            await Program.WaitIdleAsync(client, TimeSpan.FromSeconds(o.AckDeadlineSeconds + 30), ct).ConfigureAwait(false);
        await File.WriteAllTextAsync(Path.Combine(context.Out, "ack.csv"), raw.ToString(), ct).ConfigureAwait(false);

        var a = new Stats(acks);
        var h = new Stats(healths);
        var text = new StringBuilder();
        text.Append("## 1. Accept-to-ack latency (POST /v1/jobs → 202)\n\n");
        text.Append(CultureInfo.InvariantCulture, $"{o.AckJobs} measured jobs after {o.AckWarmup} warm-up jobs, one keep-alive connection, each job interleaved with a GET /healthz on the same connection (order alternating). Time: from the request's last byte handed to the kernel to the whole answer read. Mode `{o.AckMode}`: ");
        text.Append(o.AckMode == "held"
            ? $"every job is verified and accepted (202) but its bundle URL is held unanswered by the bench, so it waits in `preparing` (no engine call) until its deadline (now + {o.AckDeadlineSeconds} s) times it out with a signed receipt; one job every {o.AckIntervalMs} ms keeps at most ≈ {o.AckDeadlineSeconds * 1000 / o.AckIntervalMs + 1000 / o.AckIntervalMs} jobs unfinished (limit 256); most unfinished jobs seen (queue depth + active, sampled every 100 jobs): {maxPending}. The node is signing and logging timed_out receipts in the background while acks are measured, as it would under load.\n"
            : "every job is the stdio embedder, run to its final state before the next is sent (no container runs during an ack).\n");
        text.Append(CultureInfo.InvariantCulture, $"Load average at start: {load}; at end: {Program.LoadAverage()}; {seconds:0.0} s.\n\n");
        text.Append("| Request | n | p50 | p90 | p99 | max | mean |\n|---|--:|--:|--:|--:|--:|--:|\n");
        foreach ((string name, Stats s) in (ReadOnlySpan<(string, Stats)>)[("POST /v1/jobs → 202", a), ("GET /healthz → 200 (baseline)", h), ("POST /v1/jobs, first byte sent → 202 (context)", new Stats(totals))])
            text.Append(CultureInfo.InvariantCulture, $"| {name} | {s.Count} | {Stats.Ms(s.Median)} | {Stats.Ms(s.Percentile(0.90))} | {Stats.Ms(s.Percentile(0.99))} | {Stats.Ms(s.Max)} | {Stats.Ms(s.Mean)} |\n");
        text.Append("\nThe last row also counts the client's own send: when it is much above the first, the client (not the node) was descheduled mid-send, and the clock of the first row started late.\n");
        text.Append(CultureInfo.InvariantCulture, $"\n- ratio to the healthz floor: p50 {a.Median / h.Median:0.00}×, p99 {a.Percentile(0.99) / h.Percentile(0.99):0.00}×\n");
        text.Append(CultureInfo.InvariantCulture, $"- goal p99 ≤ 5 ms: {(a.Percentile(0.99) <= 5000 ? "**met**" : "**NOT met**")} (p99 {Stats.Ms(a.Percentile(0.99))})\n");
        text.Append(CultureInfo.InvariantCulture, $"- connections opened: {client.Connects} (1 = keep-alive held throughout)\n\n");
        return text.ToString();
    }
}
