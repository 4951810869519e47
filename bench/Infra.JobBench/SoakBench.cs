using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace InfraMind.Node.JobBench;

/// <summary>
/// Benchmark 4, the soak: for <see cref="Options.SoakSeconds"/>, warm rest jobs one after another through the node
/// (POST /v1/jobs?wait=true: verify, run, sign, log the receipt; 60 s deadlines) while a second connection reads GET /v1/status and
/// GET /metrics back to back. Every 2 s it samples the node's resident memory (VmRSS) and GC heap
/// (inframind_process_gc_heap_bytes). The goals: at most 32 MiB under load, and flat: the last fifth of the run no
/// higher than the second fifth (the first is warm-up) by more than 1 MiB.
/// </summary>
internal static class SoakBench
{
    private const double FlatToleranceMiB = 1.0;
    private const double PeakGoalMiB = 32.0;

    /// <summary>
    /// A warm inference job's deadline: the node's replay guard remembers each id until then (at most 100,000), so a
    /// far deadline at hundreds of jobs a second would fill it, and a soak longer than the deadline sees it level off.
    /// </summary>
    private const int JobDeadlineSeconds = 60;

    public static async Task<string> RunAsync(BenchContext context, CancellationToken ct)
    {
        Options o = context.Options;
        Bundle bundle = context.Bundles["rest"];
        const string input = "The quick brown fox jumps over the lazy dog, soaked.";
        string load = Program.LoadAverage();
        using var jobs = RawHttpClient.Tcp(context.Node.EndPoint);
        using var reader = RawHttpClient.Tcp(context.Node.EndPoint);
        using var probe = RawHttpClient.Tcp(context.Node.EndPoint);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        long jobsDone = 0, reads = 0;

        async Task SubmitLoopAsync()
        {
            for (long round = 0; !stop.IsCancellationRequested; round++)
            {
                string jobId = $"{context.RunTag}-soak-{round.ToString(CultureInfo.InvariantCulture)}";
                byte[] job = context.Scheduler.Job(context.Node.NodeId, jobId, bundle.ModelHash, context.Server.FileUri(bundle.Archive), o.RestEntrypoint, input,
                    (ulong)DateTimeOffset.UtcNow.AddSeconds(JobDeadlineSeconds).ToUnixTimeSeconds());
                RawResponse answer = await jobs.SendAsync(RawHttpClient.PostJson(jobs.Host, "/v1/jobs?wait=true", job), ct).ConfigureAwait(false);
                using JsonDocument json = JsonDocument.Parse(answer.Body);
                string state = json.RootElement.TryGetProperty("state", out JsonElement s) ? s.GetString() ?? "" : "";
                if (answer.Status != 200 || state != "succeeded")
                    throw new InvalidOperationException($"soak job {jobId}: POST /v1/jobs?wait=true answered {answer.Status}, state '{state}': {Program.Head(answer.Text)}");
                Interlocked.Increment(ref jobsDone);
            }
        }

        async Task ReadLoopAsync()
        {
            byte[] status = RawHttpClient.Get(reader.Host, "/v1/status");
            byte[] metrics = RawHttpClient.Get(reader.Host, "/metrics");
            while (!stop.IsCancellationRequested)
            {
                foreach (byte[] request in new[] { status, metrics })
                {
                    RawResponse answer = await reader.SendAsync(request, ct).ConfigureAwait(false);
                    if (answer.Status != 200)
                        throw new InvalidOperationException($"soak read answered {answer.Status}: {Program.Head(answer.Text)}");
                    Interlocked.Increment(ref reads);
                }
            }
        }

        var samples = new List<(double Seconds, double RssMiB, double HeapMiB, long Jobs)>();
        var clock = Stopwatch.StartNew();
        Task submit = Task.Run(SubmitLoopAsync, ct);
        Task read = Task.Run(ReadLoopAsync, ct);
        try
        {
            while (clock.Elapsed.TotalSeconds < o.SoakSeconds)
            {
                await Task.WhenAny(Task.Delay(2000, ct), submit, read).ConfigureAwait(false);
                if (submit.IsFaulted || read.IsFaulted)
                    break;
                samples.Add((clock.Elapsed.TotalSeconds, Kb(context.Node.Pid, "VmRSS") / 1024.0, Program.Sample(await Program.MetricsAsync(probe, ct).ConfigureAwait(false), "inframind_process_gc_heap_bytes") / (1024 * 1024), Interlocked.Read(ref jobsDone)));
                if (samples.Count % 15 == 0)
                    Console.Write($" {samples[^1].Seconds:0}s {samples[^1].RssMiB:0.0}MiB {samples[^1].Jobs}jobs");
            }
        }
        finally
        {
            await stop.CancelAsync().ConfigureAwait(false);
            await Task.WhenAll(submit, read).ContinueWith(_ => { }, TaskScheduler.Default).ConfigureAwait(false);
        }

        await Task.WhenAll(submit, read).ConfigureAwait(false); // rethrows a loop's failure
        Console.WriteLine($" {clock.Elapsed.TotalSeconds:0.0} s");
        if (samples.Count < 10)
            throw new InvalidOperationException($"the soak took only {samples.Count} samples; give it --soak-seconds 30 or more");

        double hwm = Kb(context.Node.Pid, "VmHWM") / 1024.0;
        var csv = new StringBuilder("seconds,rss_mib,gc_heap_mib,jobs\n");
        foreach (var s in samples)
            csv.Append(CultureInfo.InvariantCulture, $"{s.Seconds:0.0},{s.RssMiB:0.00},{s.HeapMiB:0.00},{s.Jobs}\n");
        await File.WriteAllTextAsync(Path.Combine(context.Out, "soak.csv"), csv.ToString(), ct).ConfigureAwait(false);

        int fifth = samples.Count / 5;
        double second = new Stats(samples.Skip(fifth).Take(fifth).Select(s => s.RssMiB)).Median;
        double last = new Stats(samples.Skip(samples.Count - fifth).Select(s => s.RssMiB)).Median;
        double heapSecond = new Stats(samples.Skip(fifth).Take(fifth).Select(s => s.HeapMiB)).Median;
        double heapLast = new Stats(samples.Skip(samples.Count - fifth).Select(s => s.HeapMiB)).Median;
        double peak = samples.Max(s => s.RssMiB);
        double seconds = clock.Elapsed.TotalSeconds;

        var text = new StringBuilder();
        text.Append("## 4. Soak: warm rest jobs and status reads, memory sampled\n\n");
        text.Append(CultureInfo.InvariantCulture, $"{seconds:0} s: {jobsDone} warm rest jobs through the node one after another ({jobsDone / seconds:0} per second, each verified, run, signed and logged) and {reads} GET /v1/status and /metrics reads on a second connection; {samples.Count} samples, one every 2 s (`soak.csv`). Load average at start: {load}; at end: {Program.LoadAverage()}.\n\n");
        text.Append("| | resident (VmRSS) | GC heap |\n|---|--:|--:|\n");
        text.Append(CultureInfo.InvariantCulture, $"| first sample | {samples[0].RssMiB:0.00} MiB | {samples[0].HeapMiB:0.00} MiB |\n");
        text.Append(CultureInfo.InvariantCulture, $"| second fifth, median | {second:0.00} MiB | {heapSecond:0.00} MiB |\n");
        text.Append(CultureInfo.InvariantCulture, $"| last fifth, median | {last:0.00} MiB | {heapLast:0.00} MiB |\n");
        text.Append(CultureInfo.InvariantCulture, $"| highest sample / VmHWM | {peak:0.00} / {hwm:0.00} MiB | {samples.Max(s => s.HeapMiB):0.00} MiB |\n\n");
        text.Append(CultureInfo.InvariantCulture, $"- goal ≤ {PeakGoalMiB:0} MiB under load (VmHWM, start-up included): {(hwm <= PeakGoalMiB ? "**met**" : "**NOT met**")}\n");
        text.Append(CultureInfo.InvariantCulture, $"- goal flat (last fifth − second fifth ≤ {FlatToleranceMiB:0.0} MiB): {last - second:+0.00;-0.00} MiB resident, {heapLast - heapSecond:+0.00;-0.00} MiB GC heap: {(last - second <= FlatToleranceMiB ? "**met**" : "**NOT met**")}\n\n");
        return text.ToString();
    }

    /// <summary>A kB field of /proc/PID/status (VmRSS, VmHWM).</summary>
    private static long Kb(int pid, string field)
    {
        foreach (string line in File.ReadLines($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/status"))
        {
            if (line.StartsWith(field + ":", StringComparison.Ordinal))
                return long.Parse(line.AsSpan(field.Length + 1).Trim().TrimEnd("kB").Trim(), CultureInfo.InvariantCulture);
        }

        throw new InvalidOperationException($"/proc/{pid}/status has no {field}");
    }
}
