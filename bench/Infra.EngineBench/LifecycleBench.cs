using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using InfraMind.Node.Containers.Engine;

namespace InfraMind.Node.EngineBench;

/// <summary>
/// Whole-lifecycle wall time of one trivial container (create, start, wait, remove; no attach), measured in one
/// run for every method, interleaved round-robin with the order rotated each round so no method always goes
/// first or always follows the same neighbour:
/// <list type="bullet">
/// <item><c>client</c>: one long-lived <see cref="EngineClient"/>, timed with a Stopwatch around the 4 calls.</item>
/// <item><c>curl</c>: the same 4 HTTP calls (the same JSON body, byte for byte) as 4 curl processes, timed by bash
/// right around them (<c>shell-lifecycle.sh</c>), so neither .NET's process start nor bash's is counted.</item>
/// <item><c>docker run</c> / <c>podman run</c>: <c>run --rm --network none IMAGE exit 0</c> (same network mode as the
/// body), and for Docker also the literal <c>docker run --rm IMAGE exit 0</c> (default bridge network).</item>
/// </list>
/// </summary>
internal static class LifecycleBench
{
    private const string DockerSocket = "/var/run/docker.sock";
    private const string PodmanSocket = "/run/podman/podman.sock";
    private const string PodmanConf = "/etc/inframind/podman-containers.conf";

    public static async Task<int> RunAsync(string[] args)
    {
        Options? options = Options.Parse(args);
        if (options is null)
        {
            await Console.Error.WriteLineAsync(
                "usage: Infra.EngineBench lifecycle [--engine docker|podman] [--socket PATH] [--image IMAGE] " +
                "[--iterations N (25)] [--warmup N (3)] [--no-cli] [--out DIR]").ConfigureAwait(false);
            return 2;
        }

        using var cancel = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            cancel.Cancel();
        };
        CancellationToken ct = cancel.Token;

        await using EngineClient client = await EngineClient.ConnectAsync(options.Socket, ct).ConfigureAwait(false);
        if (await client.InspectImageAsync(options.Image, ct).ConfigureAwait(false) is null)
        {
            await Console.Error.WriteLineAsync($"lifecycle: {options.Image} is not in the engine at {options.Socket}; run tests/fixtures/containers/build-images.sh").ConfigureAwait(false);
            return 1;
        }

        var request = new ContainerCreateRequest
        {
            Image = options.Image,
            Cmd = ["exit", "0"],
            HostConfig = new HostConfig { NetworkMode = "none" },
        };
        string body = JsonSerializer.Serialize(request, EngineJson.Default.ContainerCreateRequest);
        string helper = Path.Combine(AppContext.BaseDirectory, "shell-lifecycle.sh");
        string tag = $"imbench-{options.Engine}-{Environment.ProcessId.ToString(CultureInfo.InvariantCulture)}";

        List<Method> methods =
        [
            new("client", ["create", "start", "wait", "remove"], round => ClientLifecycleAsync(client, $"{tag}-client-{round}", request, ct)),
            new("curl", ["create", "start", "wait", "remove"], round => ShellAsync(helper, ["curl", options.Socket, $"{tag}-curl-{round}", body], null, ct)),
        ];
        string cli = options.Engine;
        bool withCli = options.Cli && FindOnPath(cli) is not null;
        if (withCli)
        {
            Dictionary<string, string>? env = cli == "podman" ? new() { ["CONTAINERS_CONF"] = PodmanConf } : null;
            methods.Add(new($"{cli} run", [], _ => ShellAsync(helper, ["cli", cli, "run", "--rm", "--network", "none", options.Image, "exit", "0"], env, ct)));
            if (cli == "docker")
                methods.Add(new($"{cli} run (bridge)", [], _ => ShellAsync(helper, ["cli", cli, "run", "--rm", options.Image, "exit", "0"], env, ct)));
        }

        string curlVersion = (await CaptureAsync("curl", ["--version"], ct).ConfigureAwait(false)).Split('\n')[0];
        string header =
            $"date: {DateTime.Now.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture)}\n" +
            $"engine: {client.Kind} {client.EngineVersion} (API {client.ApiVersion}) on {options.Socket}\n" +
            $"image: {options.Image}, Cmd [\"exit\",\"0\"]; create body (client and curl): {body}\n" +
            $"host: {Environment.ProcessorCount} CPUs, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}, .NET {Environment.Version} (JIT)\n" +
            $"curl: {curlVersion}\n" +
            (withCli ? "" : $"{cli} CLI: skipped ({(options.Cli ? "not on PATH" : "--no-cli")})\n") +
            $"load average at start (1/5/15 min): {LoadAverage()}\n" +
            $"rounds: {options.Warmup} warmup + {options.Iterations} measured, round-robin over {string.Join(", ", methods.Select(m => m.Name))}, order rotated each round";
        Console.WriteLine(header);

        var samples = methods.ToDictionary(m => m, _ => new List<Sample>());
        var raw = new StringBuilder("engine,round,method,total_us,create_us,start_us,wait_us,remove_us\n");
        var clock = Stopwatch.StartNew();
        for (int round = 0; round < options.Warmup + options.Iterations; round++)
        {
            bool measured = round >= options.Warmup;
            for (int k = 0; k < methods.Count; k++)
            {
                Method method = methods[(round + k) % methods.Count];
                Sample sample;
                try
                {
                    sample = await method.RunOnce(round).ConfigureAwait(false);
                }
                catch (Exception e) when (e is EngineException or InvalidOperationException)
                {
                    await Console.Error.WriteLineAsync($"lifecycle: {method.Name}, round {round}: {e.Message}").ConfigureAwait(false);
                    await CleanUpAsync(client, tag, methods, round).ConfigureAwait(false);
                    return 1;
                }

                if (!measured)
                    continue;
                samples[method].Add(sample);
                raw.Append(CultureInfo.InvariantCulture, $"{options.Engine},{round - options.Warmup},{method.Name},{sample.TotalUs:0}");
                for (int s = 0; s < 4; s++)
                    raw.Append(',').Append(s < sample.StepsUs.Length ? sample.StepsUs[s].ToString("0", CultureInfo.InvariantCulture) : "");
                raw.Append('\n');
            }

            Console.Write(measured ? "." : "w");
        }

        Console.WriteLine($" {clock.Elapsed.TotalSeconds:0.0} s");
        string table = Table(methods, samples);
        Console.WriteLine(table);
        string report = $"```\n{header}\nmeasuring took {clock.Elapsed.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture)} s; load average at the end: {LoadAverage()}\n```\n\n{table}";

        Directory.CreateDirectory(options.Out);
        await File.WriteAllTextAsync(Path.Combine(options.Out, $"lifecycle-{options.Engine}.csv"), raw.ToString(), ct).ConfigureAwait(false);
        await File.WriteAllTextAsync(Path.Combine(options.Out, $"lifecycle-{options.Engine}.md"), report, ct).ConfigureAwait(false);
        Console.WriteLine($"lifecycle: wrote {Path.Combine(options.Out, $"lifecycle-{options.Engine}.csv")} and .md");
        return 0;
    }

    /// <summary>What the node does for a job: create, start, wait, remove, through one long-lived client.</summary>
    private static async Task<Sample> ClientLifecycleAsync(EngineClient client, string name, ContainerCreateRequest request, CancellationToken ct)
    {
        long t0 = Stopwatch.GetTimestamp();
        string id = await client.CreateContainerAsync(name, request, ct).ConfigureAwait(false);
        long t1 = Stopwatch.GetTimestamp();
        await client.StartContainerAsync(id, ct).ConfigureAwait(false);
        long t2 = Stopwatch.GetTimestamp();
        long exitCode = await client.WaitContainerAsync(id, ct).ConfigureAwait(false);
        long t3 = Stopwatch.GetTimestamp();
        await client.RemoveContainerAsync(id, ct).ConfigureAwait(false);
        long t4 = Stopwatch.GetTimestamp();
        if (exitCode != 0)
            throw new InvalidOperationException($"the probe exited {exitCode}, not 0");
        return new Sample(Us(t0, t4), [Us(t0, t1), Us(t1, t2), Us(t2, t3), Us(t3, t4)]);
    }

    private static double Us(long from, long to) => Stopwatch.GetElapsedTime(from, to).TotalMicroseconds;

    /// <summary>Runs shell-lifecycle.sh, which times its commands itself and prints the microseconds.</summary>
    private static async Task<Sample> ShellAsync(string helper, string[] args, Dictionary<string, string>? env, CancellationToken ct)
    {
        var start = new ProcessStartInfo(helper)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string arg in args)
            start.ArgumentList.Add(arg);
        foreach ((string key, string value) in env ?? [])
            start.Environment[key] = value;
        using Process process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {helper}");
        Task<string> stdout = process.StandardOutput.ReadToEndAsync(ct);
        Task<string> stderr = process.StandardError.ReadToEndAsync(ct);
        await process.WaitForExitAsync(ct).ConfigureAwait(false);
        string output = await stdout.ConfigureAwait(false);
        string errors = await stderr.ConfigureAwait(false);
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{string.Join(' ', args.Take(2))}: exit {process.ExitCode}: {errors.Trim()}");
        double[] numbers = [.. output.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(n => double.Parse(n, CultureInfo.InvariantCulture))];
        if (numbers.Length == 0)
            throw new InvalidOperationException($"{helper} printed no timing: '{output}'");
        return new Sample(numbers[0], numbers[1..]);
    }

    private static async Task<string> CaptureAsync(string command, string[] args, CancellationToken ct)
    {
        try
        {
            var start = new ProcessStartInfo(command) { RedirectStandardOutput = true, UseShellExecute = false };
            foreach (string arg in args)
                start.ArgumentList.Add(arg);
            using Process process = Process.Start(start) ?? throw new InvalidOperationException(command);
            string output = await process.StandardOutput.ReadToEndAsync(ct).ConfigureAwait(false);
            await process.WaitForExitAsync(ct).ConfigureAwait(false);
            return output.Trim();
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return "(not found)";
        }
    }

    /// <summary>The first three fields of /proc/loadavg: other work on this small machine shows in every number.</summary>
    private static string LoadAverage()
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

    private static string? FindOnPath(string command) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, command))
            .FirstOrDefault(File.Exists);

    /// <summary>After a failure: removes whatever this run's named containers of that round may have left.</summary>
    private static async Task CleanUpAsync(EngineClient client, string tag, List<Method> methods, int round)
    {
        foreach (Method method in methods.Where(m => m.Steps.Length > 0))
        {
            try
            {
                await client.RemoveContainerAsync($"{tag}-{method.Name}-{round}", CancellationToken.None).ConfigureAwait(false);
            }
            catch (EngineException e)
            {
                await Console.Error.WriteLineAsync($"lifecycle: clean-up of {tag}-{method.Name}-{round}: {e.Message}").ConfigureAwait(false);
            }
        }
    }

    /// <summary>The markdown summary: median, p90, min and mean per method, step medians, and the ratios to the client.</summary>
    private static string Table(List<Method> methods, Dictionary<Method, List<Sample>> samples)
    {
        var text = new StringBuilder();
        text.Append("| Method | n | Median | p90 | Min | Mean | Median per step (create / start / wait / remove) |\n");
        text.Append("|--------|--:|-------:|----:|----:|-----:|--------------------------------------------------|\n");
        foreach (Method method in methods)
        {
            List<Sample> list = samples[method];
            double[] totals = [.. list.Select(s => s.TotalUs)];
            string steps = method.Steps.Length == 0
                ? "–"
                : string.Join(" / ", method.Steps.Select((_, i) => Ms(Median([.. list.Select(s => s.StepsUs[i])]))));
            text.Append(CultureInfo.InvariantCulture,
                $"| {method.Name} | {totals.Length} | {Ms(Median(totals))} | {Ms(Percentile(totals, 0.90))} | {Ms(totals.Min())} | {Ms(totals.Average())} | {steps} |\n");
        }

        double client = Median([.. samples[methods[0]].Select(s => s.TotalUs)]);
        text.Append('\n');
        foreach (Method other in methods.Skip(1))
        {
            double median = Median([.. samples[other].Select(s => s.TotalUs)]);
            double ratio = client / median;
            string verdict = other.Name == "curl"
                ? (ratio <= 1.05 ? "within 5 % of curl: yes" : "within 5 % of curl: NO")
                : (ratio < 1 ? $"faster than {other.Name}: yes" : $"faster than {other.Name}: NO");
            text.Append(CultureInfo.InvariantCulture, $"- client / {other.Name} (medians): {ratio:0.000} ({(ratio - 1) * 100:+0.0;-0.0} %); {verdict}\n");
            if (other.Steps.Length == 4)
            {
                // The wait step is mostly the engine noticing the exit (Podman's compatible wait polls every 250 ms),
                // so the client's own cost shows best in the other three calls.
                double clientRest = Median([.. samples[methods[0]].Select(s => s.TotalUs - s.StepsUs[2])]);
                double otherRest = Median([.. samples[other].Select(s => s.TotalUs - s.StepsUs[2])]);
                text.Append(CultureInfo.InvariantCulture,
                    $"- client / {other.Name} without the wait step (medians of create + start + remove): {Ms(clientRest)} / {Ms(otherRest)} = {clientRest / otherRest:0.000}\n");
            }
        }

        return text.ToString();
    }

    private static string Ms(double us) => (us / 1000).ToString("0.0", CultureInfo.InvariantCulture) + " ms";

    private static double Median(double[] values)
    {
        double[] sorted = [.. values.Order()];
        int n = sorted.Length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[(n / 2) - 1] + sorted[n / 2]) / 2;
    }

    /// <summary>Nearest-rank percentile.</summary>
    private static double Percentile(double[] values, double p)
    {
        double[] sorted = [.. values.Order()];
        int rank = (int)Math.Ceiling(p * sorted.Length);
        return sorted[Math.Clamp(rank - 1, 0, sorted.Length - 1)];
    }

    private sealed record Sample(double TotalUs, double[] StepsUs);

    private sealed record Method(string Name, string[] Steps, Func<int, Task<Sample>> RunOnce);

    private sealed class Options
    {
        public string Engine { get; private set; } = "docker";

        public string Socket { get; private set; } = DockerSocket;

        public string Image { get; private set; } = "inframind-test/probe:1";

        public int Iterations { get; private set; } = 25;

        public int Warmup { get; private set; } = 3;

        public bool Cli { get; private set; } = true;

        public string Out { get; private set; } = Path.Combine(Program.RepositoryRoot(), "bench", "results", "engine");

        public static Options? Parse(string[] args)
        {
            var options = new Options();
            string? socket = null;
            for (int i = 0; i < args.Length; i++)
            {
                string? Next() => i + 1 < args.Length ? args[++i] : null;
                switch (args[i])
                {
                    case "--engine" when Next() is "docker" or "podman":
                        options.Engine = args[i];
                        break;
                    case "--socket" when Next() is { } value:
                        socket = value;
                        break;
                    case "--image" when Next() is { } value:
                        options.Image = value;
                        break;
                    case "--iterations" when int.TryParse(Next(), CultureInfo.InvariantCulture, out int n) && n >= 1:
                        options.Iterations = n;
                        break;
                    case "--warmup" when int.TryParse(Next(), CultureInfo.InvariantCulture, out int n) && n >= 0:
                        options.Warmup = n;
                        break;
                    case "--no-cli":
                        options.Cli = false;
                        break;
                    case "--out" when Next() is { } value:
                        options.Out = Path.GetFullPath(value);
                        break;
                    default:
                        return null;
                }
            }

            options.Socket = socket ?? (options.Engine == "podman" ? PodmanSocket : DockerSocket);
            return options;
        }
    }
}
