using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using InfraMind.Node.Containers.Engine;
using InfraMind.Node.Containers.Sandbox;

namespace InfraMind.Node.JobBench;

/// <summary>
/// Benchmark 3, a warm rest request: a rest embedder job through the node with the model's container already
/// warm (POST /v1/jobs?wait=true, first byte sent to whole 200 answer), against POST /inference sent straight to
/// a second container of the same image and sandbox that the bench starts itself and reaches the way the node
/// does: a TCP socket created inside the container's network namespace (setns, <see cref="NetworkNamespace"/>)
/// to its own loopback, one keep-alive connection. Interleaved, order alternating; outputs must agree.
/// </summary>
internal static class RestBench
{
    public static async Task<string> RunAsync(BenchContext context, CancellationToken ct)
    {
        Options o = context.Options;
        Bundle bundle = context.Bundles["rest"];
        string input = "The quick brown fox jumps over the lazy dog, measured once more.";
        using var nodeClient = RawHttpClient.Tcp(context.Node.EndPoint);
        var node = new List<double>();
        var direct = new List<double>();
        var raw = new StringBuilder("round,measured,node_us,direct_us\n");
        string load = Program.LoadAverage();

        await using BareRestContainer container = await BareRestContainer.StartAsync(context, bundle, ct).ConfigureAwait(false);
        byte[] inference;
        using (var body = new MemoryStream())
        {
            using (var w = new Utf8JsonWriter(body))
            {
                w.WriteStartObject();
                w.WriteString("input", input);
                w.WriteEndObject();
            }

            inference = RawHttpClient.PostJson("127.0.0.1", "/inference", body.ToArray());
        }

        var clock = Stopwatch.StartNew();
        for (int round = 0; round < o.RestWarmup + o.RestRounds; round++)
        {
            string jobId = $"{context.RunTag}-rest-{round.ToString(CultureInfo.InvariantCulture)}";
            byte[] job = context.Scheduler.Job(context.Node.NodeId, jobId, bundle.ModelHash, context.Server.FileUri(bundle.Archive), o.RestEntrypoint, input,
                (ulong)DateTimeOffset.UtcNow.AddMinutes(10).ToUnixTimeSeconds());
            byte[] request = RawHttpClient.PostJson(nodeClient.Host, "/v1/jobs?wait=true", job);

            double nodeUs = 0, directUs = 0;
            string nodeOutput = "", directOutput = "";
            for (int k = 0; k < 2; k++)
            {
                if ((round + k) % 2 == 0)
                {
                    RawResponse answer = await nodeClient.SendAsync(request, ct).ConfigureAwait(false);
                    using JsonDocument json = JsonDocument.Parse(answer.Body);
                    string state = json.RootElement.TryGetProperty("state", out JsonElement s) ? s.GetString() ?? "" : "";
                    if (answer.Status != 200 || state != "succeeded")
                        throw new InvalidOperationException($"job {jobId}: POST /v1/jobs?wait=true answered {answer.Status}, state '{state}': {Program.Head(answer.Text)}");
                    nodeUs = answer.TotalUs;
                    nodeOutput = json.RootElement.TryGetProperty("output", out JsonElement output) ? output.GetRawText() : "";
                }
                else
                {
                    RawResponse answer = await container.Client.SendAsync(inference, ct).ConfigureAwait(false);
                    if (answer.Status != 200)
                        throw new InvalidOperationException($"POST /inference straight to the container answered {answer.Status}: {Program.Head(answer.Text)}");
                    directUs = answer.TotalUs;
                    using JsonDocument json = JsonDocument.Parse(answer.Body);
                    directOutput = json.RootElement.GetProperty("output").GetRawText();
                }
            }

            if (!Program.SameEmbedding(nodeOutput, directOutput))
                throw new InvalidOperationException($"round {round}: the node's output and the container's differ:\nnode: {Program.Head(nodeOutput)}\ndirect: {Program.Head(directOutput)}");
            bool measured = round >= o.RestWarmup;
            if (measured)
            {
                node.Add(nodeUs);
                direct.Add(directUs);
            }

            raw.Append(CultureInfo.InvariantCulture, $"{round},{(measured ? 1 : 0)},{nodeUs:0},{directUs:0}\n");
            if (round % 5 == 4)
                Console.Write(measured ? '.' : 'w');
        }

        Console.WriteLine($" {clock.Elapsed.TotalSeconds:0.0} s");
        await File.WriteAllTextAsync(Path.Combine(context.Out, "rest.csv"), raw.ToString(), ct).ConfigureAwait(false);

        var n = new Stats(node);
        var d = new Stats(direct);
        var text = new StringBuilder();
        text.Append("## 3. Warm rest request: through the node vs straight to the container\n\n");
        text.Append(CultureInfo.InvariantCulture, $"{o.RestRounds} measured rounds after {o.RestWarmup} warm-up rounds (the first starts the node's warm container), interleaved, order alternating. Node: POST /v1/jobs?wait=true with the rest embedder job, first byte sent to the whole 200 answer (`succeeded`, receipt signed and logged), the model's container warm in the node's pool. Baseline (\"direct\"): POST /inference with the same input to a second container of the same image, started by the bench with the same sandbox create body, reached as the node reaches its own: a socket made inside the container's network namespace (setns) to its loopback port {bundle.Port}, one keep-alive connection (opened {container.Client.Connects} time(s)). Outputs are checked to be the same embedding. Load average at start: {load}; at end: {Program.LoadAverage()}.\n\n");
        text.Append("| Path | n | median | p90 | min | max |\n|---|--:|--:|--:|--:|--:|\n");
        foreach ((string name, Stats s) in (ReadOnlySpan<(string, Stats)>)[("through the node", n), ("straight to the container (baseline)", d)])
            text.Append(CultureInfo.InvariantCulture, $"| {name} | {s.Count} | {Stats.Ms(s.Median)} | {Stats.Ms(s.Percentile(0.90))} | {Stats.Ms(s.Min)} | {Stats.Ms(s.Max)} |\n");
        double diff = n.Median - d.Median;
        text.Append(CultureInfo.InvariantCulture, $"\n- node − direct: median {Stats.Ms(diff)}, p90 {Stats.Ms(n.Percentile(0.90) - d.Percentile(0.90))}; ratio of medians {n.Median / d.Median:0.0}×\n");
        text.Append(CultureInfo.InvariantCulture, $"- goal within 1 ms (medians): {(diff <= 1000 ? "**met**" : "**NOT met**")}\n\n");
        return text.ToString();
    }

    /// <summary>The baseline's rest container: the node's sandbox create body, started, reached through its netns.</summary>
    private sealed class BareRestContainer(EngineClient engine, string id, RawHttpClient client) : IAsyncDisposable
    {
        public RawHttpClient Client => client;

        public static async Task<BareRestContainer> StartAsync(BenchContext context, Bundle bundle, CancellationToken ct)
        {
            var spec = new SandboxSpec(bundle.ImageId, $"{context.RunTag}-direct", context.Scheduler.Address, bundle.Resources)
            {
                Command = context.Options.RestEntrypoint.Split(' ', StringSplitOptions.RemoveEmptyEntries),
            };
            ContainerCreateRequest create = spec.ToCreateRequest(stdin: false);
            string id = await context.Engine.CreateContainerAsync(spec.ContainerName(create), create, ct).ConfigureAwait(false);
            try
            {
                await context.Engine.StartContainerAsync(id, ct).ConfigureAwait(false);
                ContainerInspectResponse started = await context.Engine.InspectContainerAsync(id, ct).ConfigureAwait(false);
                int pid = started.State?.Pid ?? 0;
                if (pid <= 0)
                    throw new InvalidOperationException($"the baseline rest container {id} is not running after start");
                var client = RawHttpClient.Custom(c => NetworkNamespace.ConnectLoopbackAsync(pid, bundle.Port, c), $"127.0.0.1:{bundle.Port.ToString(CultureInfo.InvariantCulture)}");
                for (int attempt = 0; ; attempt++)
                {
                    try
                    {
                        RawResponse health = await client.SendAsync(RawHttpClient.Get(client.Host, "/health"), ct).ConfigureAwait(false);
                        if (health.Status == 200)
                            return new BareRestContainer(context.Engine, id, client);
                        if (attempt >= 100)
                            throw new InvalidOperationException($"the baseline rest container answers GET /health with {health.Status}");
                        await Task.Delay(50, ct).ConfigureAwait(false);
                    }
                    catch (Exception e) when (e is System.Net.Sockets.SocketException or IOException && attempt < 100)
                    {
                        await Task.Delay(50, ct).ConfigureAwait(false);
                    }
                }
            }
            catch
            {
                await context.Engine.RemoveContainerAsync(id, CancellationToken.None).ConfigureAwait(false);
                throw;
            }
        }

        public async ValueTask DisposeAsync()
        {
            client.Dispose();
            await engine.RemoveContainerAsync(id, CancellationToken.None).ConfigureAwait(false);
        }
    }
}
