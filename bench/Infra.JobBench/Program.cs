using System.Globalization;
using System.Text;
using System.Text.Json;
using InfraMind.Node.Containers.Engine;

namespace InfraMind.Node.JobBench;

/// <summary>Everything a benchmark needs: the node under test, the scheduler that signs, the bundle origin, the engine.</summary>
internal sealed record BenchContext(Options Options, NodeProcess Node, Scheduler Scheduler, BundleServer Server, Dictionary<string, Bundle> Bundles, EngineClient Engine, string RunTag, string Out);

/// <summary>
/// The job benchmarks of issue #6, one run (bench/jobs.sh): starts `infra run` with a throwaway state folder,
/// then 1. accept-to-ack latency vs GET /healthz, 2. stdio job through the node vs the bare Engine API calls,
/// 3. warm rest job through the node vs POST /inference straight to the container; writes summary.md and one
/// CSV per benchmark. Exit 0 when every benchmark ran (a goal missed is reported, not failed), 1 otherwise.
/// </summary>
internal static class Program
{
    public static async Task<int> Main(string[] args)
    {
        Options? options = Options.Parse(args);
        if (options is null)
        {
            await Console.Error.WriteLineAsync(Options.Usage).ConfigureAwait(false);
            return 2;
        }

        using var cancel = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            cancel.Cancel();
        };
        try
        {
            return await RunAsync(options, cancel.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is InvalidOperationException or IOException or EngineException or System.Net.Sockets.SocketException or Errors.InfraException or JsonException)
        {
            await Console.Error.WriteLineAsync($"jobbench: {e.Message}").ConfigureAwait(false);
            return 1;
        }
    }

    private static async Task<int> RunAsync(Options o, CancellationToken ct)
    {
        if (!File.Exists(o.Infra))
            throw new InvalidOperationException($"{o.Infra} is missing; fix: ./build.sh x64 (or pass --infra PATH)");
        Dictionary<string, Bundle> bundles = Bundle.Load(o.Bundles);
        Directory.CreateDirectory(o.Out);
        string runTag = "jb" + DateTime.UtcNow.ToString("HHmmss", CultureInfo.InvariantCulture);

        await using EngineClient engine = await EngineClient.ConnectAsync(o.Socket, ct).ConfigureAwait(false);
        foreach (Bundle b in bundles.Values)
        {
            // The bare baselines run the image by id: it must be the one the bundle carries.
            ImageInspectResponse? image = await engine.InspectImageAsync(b.ImageId, ct).ConfigureAwait(false);
            if (image is null)
                throw new InvalidOperationException($"image {b.ImageId} ({b.Image}) is not in {engine.Kind} on {o.Socket}; fix: examples/embedder/package.sh");
        }

        using var scheduler = new Scheduler(o.ChainId);
        await using var server = new BundleServer(o.Bundles);
        await using NodeProcess node = await NodeProcess.StartAsync(o.Infra, scheduler.Address, o.ChainId, o.Socket, Path.Combine(o.Out, "node.log"), ct).ConfigureAwait(false);
        var context = new BenchContext(o, node, scheduler, server, bundles, engine, runTag, o.Out);

        string header =
            $"# Job benchmarks\n\n```\n" +
            $"date: {DateTime.Now.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture)}\n" +
            $"host: {Environment.ProcessorCount} CPUs, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}\n" +
            $"node: {o.Infra}, {await CaptureAsync(o.Infra, "version", ct).ConfigureAwait(false)} (pid {node.Pid}, {node.NodeId}) on {node.EndPoint}\n" +
            $"engine: {engine.Kind} {engine.EngineVersion} (API {engine.ApiVersion}) on {o.Socket}\n" +
            $"client: this bench, .NET {Environment.Version} (JIT), raw HTTP/1.1 over one socket per path\n" +
            $"entrypoints (job field): stdio '{o.StdioEntrypoint}', rest '{o.RestEntrypoint}'\n" +
            $"load average at start (1/5/15 min): {LoadAverage()}\n```\n\n";
        Console.Write(header);
        var summary = new StringBuilder(header);
        foreach (string bench in o.Only)
        {
            Console.WriteLine($"==> {bench}");
            string section = bench switch
            {
                "ack" => await AckBench.RunAsync(context, ct).ConfigureAwait(false),
                "stdio" => await StdioBench.RunAsync(context, ct).ConfigureAwait(false),
                "soak" => await SoakBench.RunAsync(context, ct).ConfigureAwait(false),
                _ => await RestBench.RunAsync(context, ct).ConfigureAwait(false),
            };
            Console.Write(section);
            summary.Append(section);
            // Written after each benchmark, so a later failure keeps what was measured.
            await File.WriteAllTextAsync(Path.Combine(o.Out, "summary.md"), summary.ToString(), ct).ConfigureAwait(false);
        }

        summary.Append(CultureInfo.InvariantCulture, $"Bundles served to the node: {server.Served}; held fetches: {server.Held}. Load average at the end: {LoadAverage()}.\n");
        await File.WriteAllTextAsync(Path.Combine(o.Out, "summary.md"), summary.ToString(), ct).ConfigureAwait(false);
        Console.WriteLine($"jobbench: wrote {Path.Combine(o.Out, "summary.md")}");
        return 0;
    }

    /// <summary>The first three fields of /proc/loadavg: on a shared 2-core machine other work shows in every number.</summary>
    public static string LoadAverage()
    {
        try
        {
            return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        }
        catch (IOException)
        {
            return "?";
        }
    }

    /// <summary>
    /// Jobs accepted and not yet final: inframind_queue_depth (queued, preparing) plus inframind_active_jobs
    /// (starting, running) from GET /metrics. /v1/status's active_jobs alone leaves out the queued ones.
    /// </summary>
    public static async Task<int> UnfinishedAsync(RawHttpClient client, CancellationToken ct)
    {
        Dictionary<string, double> samples = await MetricsAsync(client, ct).ConfigureAwait(false);
        return (int)(Sample(samples, "inframind_queue_depth") + Sample(samples, "inframind_active_jobs"));
    }

    /// <summary>The unlabelled samples of GET /metrics, by name.</summary>
    public static async Task<Dictionary<string, double>> MetricsAsync(RawHttpClient client, CancellationToken ct)
    {
        RawResponse metrics = await client.SendAsync(RawHttpClient.Get(client.Host, "/metrics"), ct).ConfigureAwait(false);
        var samples = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (string line in metrics.Text.Split('\n'))
        {
            string[] parts = line.Split(' ');
            if (parts.Length == 2 && !line.StartsWith('#') && double.TryParse(parts[1], NumberStyles.Float, CultureInfo.InvariantCulture, out double value))
                samples[parts[0]] = value;
        }

        return samples;
    }

    public static double Sample(Dictionary<string, double> samples, string name) =>
        samples.TryGetValue(name, out double value) ? value : throw new InvalidOperationException($"GET /metrics has no {name} sample");

    /// <summary>Polls until the node holds no unfinished job, so one benchmark's tail does not load the next.</summary>
    public static async Task WaitIdleAsync(RawHttpClient client, TimeSpan limit, CancellationToken ct)
    {
        DateTime until = DateTime.UtcNow + limit;
        while (await UnfinishedAsync(client, ct).ConfigureAwait(false) > 0)
        {
            if (DateTime.UtcNow > until)
                throw new InvalidOperationException($"the node still has unfinished jobs after {limit.TotalSeconds:0} s");
            await Task.Delay(100, ct).ConfigureAwait(false);
        }
    }

    /// <summary>Polls GET /v1/jobs/{id} until the job is final; it must have succeeded.</summary>
    public static async Task WaitFinalAsync(RawHttpClient client, string jobId, CancellationToken ct)
    {
        byte[] request = RawHttpClient.Get(client.Host, "/v1/jobs/" + Uri.EscapeDataString(jobId));
        for (int i = 0; i < 6000; i++)
        {
            RawResponse answer = await client.SendAsync(request, ct).ConfigureAwait(false);
            using JsonDocument json = JsonDocument.Parse(answer.Body);
            string state = json.RootElement.GetProperty("state").GetString() ?? "";
            if (state == "succeeded")
                return;
            if (state is "failed" or "output_invalid" or "rejected" or "timed_out" or "cancelled")
                throw new InvalidOperationException($"job {jobId} ended {state}: {Head(answer.Text)}");
            await Task.Delay(5, ct).ConfigureAwait(false);
        }

        throw new InvalidOperationException($"job {jobId} did not finish in 30 s");
    }

    /// <summary>Two JSON number arrays with the same length and values (to 1e-6): the same embedding.</summary>
    public static bool SameEmbedding(string a, string b)
    {
        try
        {
            using JsonDocument x = JsonDocument.Parse(a);
            using JsonDocument y = JsonDocument.Parse(b);
            if (x.RootElement.ValueKind != JsonValueKind.Array || y.RootElement.ValueKind != JsonValueKind.Array)
                return false;
            double[] p = [.. x.RootElement.EnumerateArray().Select(e => e.GetDouble())];
            double[] q = [.. y.RootElement.EnumerateArray().Select(e => e.GetDouble())];
            return p.Length > 0 && p.Length == q.Length && p.Zip(q).All(t => Math.Abs(t.First - t.Second) <= 1e-6);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException)
        {
            return false;
        }
    }

    private static async Task<string> CaptureAsync(string file, string arg, CancellationToken ct)
    {
        var start = new System.Diagnostics.ProcessStartInfo(file, [arg]) { RedirectStandardOutput = true, UseShellExecute = false };
        using System.Diagnostics.Process process = System.Diagnostics.Process.Start(start) ?? throw new InvalidOperationException($"could not start {file}");
        string output = await process.StandardOutput.ReadToEndAsync(ct).ConfigureAwait(false);
        await process.WaitForExitAsync(ct).ConfigureAwait(false);
        return output.Trim();
    }

    public static string Head(string text) => text.Length <= 300 ? text : text[..300] + "…";

    /// <summary>The checkout this binary was built in (where inframind-node.sln is); the working folder if not found.</summary>
    public static string RepositoryRoot()
    {
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
        {
            if (File.Exists(Path.Combine(folder.FullName, "inframind-node.sln")))
                return folder.FullName;
        }

        return Directory.GetCurrentDirectory();
    }
}

/// <summary>Command-line options; every count has a default that fits one run on the 2-core VM.</summary>
internal sealed class Options
{
    public const string Usage =
        "usage: Infra.JobBench [--only ack,stdio,rest,soak] [--infra PATH] [--bundles DIR] [--out DIR] [--socket PATH] [--chain-id N]\n" +
        "                      [--ack-jobs N] [--ack-warmup N] [--ack-mode held|stdio] [--ack-interval-ms N] [--ack-deadline-s N]\n" +
        "                      [--stdio-rounds N] [--stdio-warmup N] [--rest-rounds N] [--rest-warmup N]\n" +
        "                      [--stdio-entrypoint TEXT] [--rest-entrypoint TEXT] [--soak-seconds N]";

    public string[] Only { get; private set; } = ["ack", "stdio", "rest"];

    public string Infra { get; private set; } = Path.Combine(Program.RepositoryRoot(), "dist", "infra-linux-x64");

    public string Bundles { get; private set; } = Path.Combine(Program.RepositoryRoot(), "examples", "embedder", "dist");

    public string Out { get; private set; } = Path.Combine(Program.RepositoryRoot(), "bench", "results", "jobs");

    public string Socket { get; private set; } = "/var/run/docker.sock";

    public ulong ChainId { get; private set; } = 31337;

    public int AckJobs { get; private set; } = 1000;

    public int AckWarmup { get; private set; } = 50;

    public string AckMode { get; private set; } = "held";

    public int AckIntervalMs { get; private set; } = 20;

    public int AckDeadlineSeconds { get; private set; } = 3;

    public int StdioRounds { get; private set; } = 25;

    public int StdioWarmup { get; private set; } = 3;

    public int RestRounds { get; private set; } = 500;

    public int RestWarmup { get; private set; } = 5;

    /// <summary>The soak's length (--only soak; not in the default set).</summary>
    public int SoakSeconds { get; private set; } = 600;

    /// <summary>
    /// The job's entrypoint field: arguments to the image's ENTRYPOINT (/embedder). Not left empty: the node
    /// would then use model.yaml's "/embedder stdio" as the command, i.e. `/embedder /embedder stdio`.
    /// </summary>
    public string StdioEntrypoint { get; private set; } = "stdio";

    public string RestEntrypoint { get; private set; } = "serve 8080";

    public static Options? Parse(string[] args)
    {
        var o = new Options();
        for (int i = 0; i < args.Length; i++)
        {
            string? Next() => i + 1 < args.Length ? args[++i] : null;
            int? Count(int min) => int.TryParse(Next(), CultureInfo.InvariantCulture, out int n) && n >= min ? n : null;
            switch (args[i])
            {
                case "--only" when Next() is { } v && v.Split(',') is var parts && parts.All(p => p is "ack" or "stdio" or "rest" or "soak"):
                    o.Only = parts;
                    break;
                case "--infra" when Next() is { } v: o.Infra = Path.GetFullPath(v); break;
                case "--bundles" when Next() is { } v: o.Bundles = Path.GetFullPath(v); break;
                case "--out" when Next() is { } v: o.Out = Path.GetFullPath(v); break;
                case "--socket" when Next() is { } v: o.Socket = v; break;
                case "--chain-id" when ulong.TryParse(Next(), CultureInfo.InvariantCulture, out ulong c): o.ChainId = c; break;
                case "--ack-jobs" when Count(1) is { } n: o.AckJobs = n; break;
                case "--ack-warmup" when Count(0) is { } n: o.AckWarmup = n; break;
                case "--ack-mode" when Next() is "held" or "stdio": o.AckMode = args[i]; break;
                case "--ack-interval-ms" when Count(1) is { } n: o.AckIntervalMs = n; break;
                case "--ack-deadline-s" when Count(2) is { } n: o.AckDeadlineSeconds = n; break;
                case "--stdio-rounds" when Count(1) is { } n: o.StdioRounds = n; break;
                case "--stdio-warmup" when Count(1) is { } n: o.StdioWarmup = n; break;
                case "--rest-rounds" when Count(1) is { } n: o.RestRounds = n; break;
                case "--rest-warmup" when Count(1) is { } n: o.RestWarmup = n; break;
                case "--soak-seconds" when Count(30) is { } n: o.SoakSeconds = n; break;
                case "--stdio-entrypoint" when Next() is { } v: o.StdioEntrypoint = v; break;
                case "--rest-entrypoint" when Next() is { } v: o.RestEntrypoint = v; break;
                default: return null;
            }
        }

        // Held jobs stay unfinished for up to deadline + 1 s: keep that well under the node's 256-job limit.
        if (o.AckMode == "held" && (o.AckDeadlineSeconds + 1) * 1000 / o.AckIntervalMs > 200)
        {
            Console.Error.WriteLine($"--ack-interval-ms {o.AckIntervalMs} with --ack-deadline-s {o.AckDeadlineSeconds} would keep over 200 jobs unfinished (limit 256); slow the pace");
            return null;
        }

        return o;
    }
}
