using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using InfraMind.Node.Containers.Engine;
using InfraMind.Node.Containers.Sandbox;

namespace InfraMind.Node.JobBench;

/// <summary>
/// Benchmark 2, agent overhead per stdio job: a stdio embedder job through the node, from the first byte of
/// POST /v1/jobs?wait=true to its whole 200 answer (final state and receipt; cache warm, image loaded), against
/// the bare Engine API calls for the same container through the node's own EngineClient: create (the same
/// <see cref="SandboxSpec"/> create body the node builds: no network, caps dropped, read-only root, tmpfs, pids,
/// memory, CPU and open-file limits), attach, start, write stdin and close it, wait, read the output, remove.
/// Interleaved round by round, the order alternating; both outputs must be the same embedding.
/// </summary>
internal static class StdioBench
{
    public static async Task<string> RunAsync(BenchContext context, CancellationToken ct)
    {
        Options o = context.Options;
        Bundle bundle = context.Bundles["stdio"];
        using var client = RawHttpClient.Tcp(context.Node.EndPoint);
        string input = "The quick brown fox jumps over the lazy dog, measured once more.";
        var node = new List<double>();
        var bare = new List<double>();
        var raw = new StringBuilder("round,measured,node_us,bare_us\n");
        string load = Program.LoadAverage();
        var clock = Stopwatch.StartNew();

        for (int round = 0; round < o.StdioWarmup + o.StdioRounds; round++)
        {
            string jobId = $"{context.RunTag}-stdio-{round.ToString(CultureInfo.InvariantCulture)}";
            byte[] job = context.Scheduler.Job(context.Node.NodeId, jobId, bundle.ModelHash, context.Server.FileUri(bundle.Archive), o.StdioEntrypoint, input,
                (ulong)DateTimeOffset.UtcNow.AddMinutes(10).ToUnixTimeSeconds());
            byte[] request = RawHttpClient.PostJson(client.Host, "/v1/jobs?wait=true", job);

            double nodeUs = 0, bareUs = 0;
            string nodeOutput = "", bareOutput = "";
            for (int k = 0; k < 2; k++)
            {
                if ((round + k) % 2 == 0)
                    (nodeUs, nodeOutput) = await ThroughNodeAsync(client, request, jobId, ct).ConfigureAwait(false);
                else
                    (bareUs, bareOutput) = await BareAsync(context, bundle, $"{context.RunTag}-bare-{round.ToString(CultureInfo.InvariantCulture)}", input, ct).ConfigureAwait(false);
            }

            if (!Program.SameEmbedding(nodeOutput, bareOutput))
                throw new InvalidOperationException($"round {round}: the node's output and the bare run's differ:\nnode: {Program.Head(nodeOutput)}\nbare: {Program.Head(bareOutput)}");
            bool measured = round >= o.StdioWarmup;
            if (measured)
            {
                node.Add(nodeUs);
                bare.Add(bareUs);
            }

            raw.Append(CultureInfo.InvariantCulture, $"{round},{(measured ? 1 : 0)},{nodeUs:0},{bareUs:0}\n");
            Console.Write(measured ? '.' : 'w');
        }

        Console.WriteLine($" {clock.Elapsed.TotalSeconds:0.0} s");
        await File.WriteAllTextAsync(Path.Combine(context.Out, "stdio.csv"), raw.ToString(), ct).ConfigureAwait(false);

        var n = new Stats(node);
        var b = new Stats(bare);
        double ratio = n.Median / b.Median;
        var text = new StringBuilder();
        text.Append("## 2. Agent overhead per stdio job\n\n");
        text.Append(CultureInfo.InvariantCulture, $"{o.StdioRounds} measured rounds after {o.StdioWarmup} warm-up rounds (the first fetches and loads the bundle), node and bare interleaved, order alternating. Node: POST /v1/jobs?wait=true with the stdio embedder job, timed from its first byte sent to the whole 200 answer (state `succeeded`, signed receipt in the durable log). Bare: the node's EngineClient on one connection, create (the same SandboxSpec create body: image {bundle.ImageId[..19]}…, {bundle.Resources.CpuMillicores}m CPU, {bundle.Resources.MemoryBytes >> 20} MiB) → attach → start → write stdin, close → wait → read output → remove. Both outputs are checked to be the same embedding. Load average at start: {load}; at end: {Program.LoadAverage()}.\n\n");
        text.Append("| Path | n | median | p90 | min | max |\n|---|--:|--:|--:|--:|--:|\n");
        foreach ((string name, Stats s) in (ReadOnlySpan<(string, Stats)>)[("through the node", n), ("bare Engine API (baseline)", b)])
            text.Append(CultureInfo.InvariantCulture, $"| {name} | {s.Count} | {Stats.Ms(s.Median)} | {Stats.Ms(s.Percentile(0.90))} | {Stats.Ms(s.Min)} | {Stats.Ms(s.Max)} |\n");
        text.Append(CultureInfo.InvariantCulture, $"\n- node / bare (medians): {ratio:0.000} ({(ratio - 1) * 100:+0.0;-0.0} %), {Stats.Ms(n.Median - b.Median)} per job\n");
        text.Append(CultureInfo.InvariantCulture, $"- goal overhead ≤ 5 %: {(ratio <= 1.05 ? "**met**" : "**NOT met**")}\n\n");
        return text.ToString();
    }

    private static async Task<(double Us, string Output)> ThroughNodeAsync(RawHttpClient client, byte[] request, string jobId, CancellationToken ct)
    {
        RawResponse answer = await client.SendAsync(request, ct).ConfigureAwait(false);
        using JsonDocument json = JsonDocument.Parse(answer.Body);
        string state = json.RootElement.TryGetProperty("state", out JsonElement s) ? s.GetString() ?? "" : "";
        if (answer.Status != 200 || state != "succeeded")
            throw new InvalidOperationException($"job {jobId}: POST /v1/jobs?wait=true answered {answer.Status}, state '{state}': {Program.Head(answer.Text)}");
        return (answer.TotalUs, json.RootElement.TryGetProperty("output", out JsonElement output) ? output.GetRawText() : "");
    }

    private static async Task<(double Us, string Output)> BareAsync(BenchContext context, Bundle bundle, string jobId, string input, CancellationToken ct)
    {
        EngineClient engine = context.Engine;
        // Labelled with the bench's address, not the node's, so the node's orphan sweep leaves it alone.
        var spec = new SandboxSpec(bundle.ImageId, jobId, context.Scheduler.Address, bundle.Resources) { Command = context.Options.StdioEntrypoint.Split(' ', StringSplitOptions.RemoveEmptyEntries) };
        ContainerCreateRequest create = spec.ToCreateRequest(stdin: true);
        var stdout = new CappedBuffer(16 << 20);
        var stderr = new CappedBuffer(64 << 10);

        long t0 = Stopwatch.GetTimestamp();
        string id = await engine.CreateContainerAsync(spec.ContainerName(create), create, ct).ConfigureAwait(false);
        long exit;
        try
        {
            await using ContainerAttachment attachment = await engine.AttachAsync(id, ct).ConfigureAwait(false);
            await engine.StartContainerAsync(id, ct).ConfigureAwait(false);
            Task reading = attachment.ReadOutputAsync(stdout, stderr, ct);
            Task<long> waiting = engine.WaitContainerAsync(id, ct);
            await attachment.WriteInputAndCloseAsync(Encoding.UTF8.GetBytes(input), ct).ConfigureAwait(false);
            exit = await waiting.ConfigureAwait(false);
            await reading.ConfigureAwait(false);
        }
        finally
        {
            await engine.RemoveContainerAsync(id, CancellationToken.None).ConfigureAwait(false);
        }

        double us = Stopwatch.GetElapsedTime(t0).TotalMicroseconds;
        if (exit != 0)
            throw new InvalidOperationException($"the bare stdio container exited {exit}: {Encoding.UTF8.GetString(stderr.ToArray())}");
        return (us, Encoding.UTF8.GetString(stdout.ToArray()));
    }
}
