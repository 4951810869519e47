using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

namespace InfraMind.Node.BundleBench;

/// <summary>
/// bench/bundle.sh's engine: builds the inputs, warms them, runs every method once (warmup, checked), then
/// <c>--runs</c> rounds of all methods interleaved (each round starts one method later), and writes the report.
/// Exit status: 0 when both paths meet both goals, 3 when a goal is missed, 1 when something failed, 2 on usage.
/// </summary>
internal static class Program
{
    private const double GoalBytesPerSecond = 1e9;
    private const double GoalRatio = 0.8;

    public static async Task<int> Main(string[] args)
    {
        int runs = 7;
        long mib = 256;
        string root = RepositoryRoot();
        string results = Path.Combine(root, "bench", "results", "bundle");
        string? work = null;
        bool keep = false;
        string[]? only = null;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--runs" when i + 1 < args.Length && int.TryParse(args[i + 1], CultureInfo.InvariantCulture, out runs) && runs >= 1:
                case "--size-mib" when i + 1 < args.Length && long.TryParse(args[i + 1], CultureInfo.InvariantCulture, out mib) && mib >= 1:
                    i++;
                    break;
                case "--results" when i + 1 < args.Length:
                    results = Path.GetFullPath(args[++i]);
                    break;
                case "--work" when i + 1 < args.Length:
                    work = Path.GetFullPath(args[++i]);
                    break;
                case "--keep":
                    keep = true;
                    break;
                case "--only" when i + 1 < args.Length:
                    only = args[++i].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                    break;
                default:
                    await Console.Error.WriteLineAsync("usage: Infra.BundleBench [--runs N (7)] [--size-mib N (256)] [--results DIR (bench/results/bundle)] [--work DIR (RESULTS/work)] [--keep] [--only NAME,NAME (profiling: those methods, no report)]").ConfigureAwait(false);
                    return 2;
            }
        }

        work ??= Path.Combine(results, "work");
        try
        {
            return await RunAsync(runs, mib << 20, results, work, only, SourceRevision(root)).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            await Console.Error.WriteLineAsync($"bundle bench: FAILED: {e}").ConfigureAwait(false);
            return 1;
        }
        finally
        {
            if (!keep && Directory.Exists(work))
                Directory.Delete(work, recursive: true);
        }
    }

    private static async Task<int> RunAsync(int runs, long payloadBytes, string results, string work, string[]? only, string source)
    {
        Directory.CreateDirectory(results);
        if (Directory.Exists(work))
            Directory.Delete(work, recursive: true);
        var clock = Stopwatch.StartNew();
        Setup setup = Setup.Create(work, payloadBytes, Log);

        // No privileges to drop the page cache, so the opposite: every input is read once before anything is timed,
        // and every method then reads it from memory (fincore checks this before and after the rounds).
        Payload.Warm(setup.PayloadPath);
        Payload.Warm(setup.CarPath);
        string residencyBefore = Residency(setup);
        Log($"page cache before the rounds: {residencyBefore}");

        await using var server = new LocalHttpServer(setup.PayloadPath, Setup.FileName);
        using var http = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { Timeout = TimeSpan.FromMinutes(2) };
        var methods = new Methods(setup, http, server.Uri);
        List<Method> all = methods.All();
        if (only is not null)
            all = [.. all.Where(m => only.Any(o => m.Name.Contains(o, StringComparison.OrdinalIgnoreCase)))];
        Log($"HTTP server: {server.Uri} (sendfile); methods: {all.Count}; warmup, then {runs} interleaved rounds");

        foreach (Method method in all)
        {
            Sample warm = await method.RunAsync().ConfigureAwait(false);
            Log($"  warmup  {method.Name,-36} {warm.Seconds,7:0.000} s");
        }

        var samples = all.ToDictionary(m => m.Name, _ => new List<Sample>());
        (double busyBefore, double stealBefore) = Cpu.Machine();
        double oursBefore = Cpu.Seconds();
        long roundsStart = Stopwatch.GetTimestamp();
        for (int round = 0; round < runs; round++)
        {
            var line = new StringBuilder($"  round {round + 1}:");
            for (int k = 0; k < all.Count; k++)
            {
                Method method = all[(k + round) % all.Count];
                GC.Collect();
                GC.WaitForPendingFinalizers();
                double cpu = Cpu.Seconds();
                Sample sample = await method.RunAsync().ConfigureAwait(false);
                samples[method.Name].Add(sample with { CpuSeconds = Cpu.Seconds() - cpu });
            }

            foreach (Method method in all.Where(m => m.Goal || m.Baseline is not null || m.Name == Methods.HttpPrevious || only is not null))
                line.Append(CultureInfo.InvariantCulture, $"  {Short(method.Name)} {samples[method.Name][^1].Seconds:0.000} s");
            Log(line.ToString());
        }

        double roundsWall = Stopwatch.GetElapsedTime(roundsStart).TotalSeconds;
        (double busyAfter, double stealAfter) = Cpu.Machine();
        double others = (busyAfter - busyBefore - (Cpu.Seconds() - oursBefore)) / roundsWall;
        string load = string.Create(CultureInfo.InvariantCulture, $"other processes kept {Math.Max(others, 0):0.00} of the {Environment.ProcessorCount} cores busy on average during the rounds, and the hypervisor stole {(stealAfter - stealBefore) / roundsWall:0.00} cores");
        Log(load);
        string residencyAfter = Residency(setup);
        Log($"page cache after the rounds: {residencyAfter}");
        if (only is not null)
        {
            // Profiling mode: medians only, no report, no verdict.
            foreach (Method m in all)
            {
                List<Sample> s = samples[m.Name];
                double median = Report.Median(s.Select(x => x.Seconds));
                long bytes = m.Input == Input.Payload ? setup.PayloadBytes : setup.CarBytes;
                Log($"{m.Name}: {string.Join(", ", s.Select(x => string.Create(CultureInfo.InvariantCulture, $"{x.Seconds:0.000}{(double.IsNaN(x.Receive) ? "" : $" ({x.Receive:0.000}+{x.Write:0.000})")} cpu {x.CpuSeconds:0.00}")))}");
                Log($"{m.Name,-42} median {median:0.000} s ({s.Min(x => x.Seconds):0.000}–{s.Max(x => x.Seconds):0.000}), {bytes / median / 1e6:0} MB/s, CPU {Report.Median(s.Select(x => x.CpuSeconds)):0.00} s, phases {Report.Median(s.Select(x => x.Receive)):0.000} + {Report.Median(s.Select(x => x.Write)):0.000} s");
            }

            return 0;
        }

        var report = new Report(setup, all, samples, runs, residencyBefore, residencyAfter, methods.HaveOpenssl, source, load);
        string markdown = report.Markdown(clock.Elapsed);
        await File.WriteAllTextAsync(Path.Combine(results, "summary.md"), markdown).ConfigureAwait(false);
        await File.WriteAllTextAsync(Path.Combine(results, "samples.csv"), report.Csv()).ConfigureAwait(false);
        Console.WriteLine();
        Console.WriteLine(markdown);
        Log($"wrote {Path.Combine(results, "summary.md")} and samples.csv");
        // bench/bundle.sh prints these as its last lines.
        await File.WriteAllLinesAsync(Path.Combine(results, "summary.txt"), report.SummaryLines()).ConfigureAwait(false);
        return report.AllGoalsMet ? 0 : 3;
    }

    private static string Short(string name) => name switch
    {
        Methods.HttpFetcher => "http",
        Methods.HttpPrevious => "http(previous)",
        Methods.CarExtract => "car",
        Methods.Sha256sumPayload => "sha256sum",
        Methods.Sha256sumCar => "sha256sum(car)",
        _ => name,
    };

    private static void Log(string line) =>
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"[{DateTime.Now:HH:mm:ss}] {line}"));

    /// <summary>fincore's view of how much of each input is in the page cache.</summary>
    private static string Residency(Setup setup)
    {
        if (Methods.Which("fincore") is null)
            return "fincore not installed; not checked";
        var parts = new List<string>();
        foreach (string file in new[] { setup.PayloadPath, setup.CarPath })
        {
            var info = new ProcessStartInfo("fincore") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (string a in new[] { "--bytes", "--noheadings", "--raw", "--output", "RES,SIZE", file })
                info.ArgumentList.Add(a);
            using Process process = Process.Start(info)!;
            string[] fields = process.StandardOutput.ReadToEnd().Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            process.WaitForExit();
            parts.Add(fields.Length == 2 && double.TryParse(fields[0], CultureInfo.InvariantCulture, out double res) && double.TryParse(fields[1], CultureInfo.InvariantCulture, out double size) && size > 0
                ? string.Create(CultureInfo.InvariantCulture, $"{Path.GetFileName(file)} {100 * res / size:0.0} % resident")
                : $"{Path.GetFileName(file)} unknown");
        }

        return string.Join(", ", parts);
    }

    /// <summary>The commit src/ was built from, and whether src/ had changes on top of it.</summary>
    private static string SourceRevision(string root)
    {
        if (Methods.Which("git") is null)
            return "an unknown commit (no git)";
        string Git(params string[] arguments)
        {
            var info = new ProcessStartInfo("git") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = root };
            foreach (string a in arguments)
                info.ArgumentList.Add(a);
            using Process process = Process.Start(info)!;
            string output = process.StandardOutput.ReadToEnd().Trim();
            process.WaitForExit();
            return process.ExitCode == 0 ? output : "";
        }

        string commit = Git("rev-parse", "--short", "HEAD");
        if (commit.Length == 0)
            return "an unknown commit (not a git checkout)";
        return Git("status", "--porcelain", "--", "src").Length == 0 ? $"commit {commit}" : $"commit {commit} with uncommitted changes";
    }

    /// <summary>The checkout this binary was built in (where inframind-node.sln is); the working folder if not found.</summary>
    private static string RepositoryRoot()
    {
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
        {
            if (File.Exists(Path.Combine(folder.FullName, "inframind-node.sln")))
                return folder.FullName;
        }

        return Directory.GetCurrentDirectory();
    }

    /// <summary>The tables, the verdicts and the breakdowns, from the samples.</summary>
    private sealed class Report(Setup setup, List<Method> methods, Dictionary<string, List<Sample>> samples, int runs, string residencyBefore, string residencyAfter, bool haveOpenssl, string source, string load)
    {
        public bool AllGoalsMet { get; private set; } = true;

        private long Bytes(Method m) => m.Input == Input.Payload ? setup.PayloadBytes : setup.CarBytes;

        private double Median(string name, Func<Sample, double>? pick = null) => Median(samples[name].Select(pick ?? (s => s.Seconds)));

        private double Rate(Method m) => Bytes(m) / Median(m.Name);

        private double BaselineRate(Input input) =>
            input == Input.Payload ? setup.PayloadBytes / Median(Methods.Sha256sumPayload) : setup.CarBytes / Median(Methods.Sha256sumCar);

        public string Markdown(TimeSpan elapsed)
        {
            var md = new StringBuilder();
            var inv = CultureInfo.InvariantCulture;
            md.AppendLine("# Bundle verification benchmark");
            md.AppendLine();
            md.AppendLine(inv, $"Run {DateTime.Now:yyyy-MM-dd HH:mm} on {Machine()}; src/ at {source}.");
            md.AppendLine(inv, $"Payload: {setup.PayloadBytes:N0} bytes ({setup.PayloadBytes >> 20} MiB) of xorshift64* output, sha256 `{Setup.Hex(setup.PayloadSha256)}`.");
            md.AppendLine(inv, $"CAR: {setup.CarBytes:N0} bytes, {setup.Car.Blocks} blocks ({setup.Car.Leaves} raw 256 KiB leaves, {setup.Car.InternalNodes} dag-pb file nodes of at most 174 links, depth {setup.Car.FileDepth}, one directory), CIDv1, root `{setup.CarRoot}`.");
            md.AppendLine(inv, $"Each method ran once as a checked warmup, then {runs} times, interleaved (round r starts with method r, so no method always runs first or last). ");
            md.AppendLine(inv, $"The page cache cannot be dropped here (no privileges), so every input was read once before the warmup and every method reads it from memory; fincore before the rounds: {residencyBefore}; after: {residencyAfter}. The HTTP server is in-process on 127.0.0.1 and sends the file with sendfile(2).");
            md.AppendLine(inv, $"MB = 10^6 bytes. \"× sha256sum\" divides a method's rate by sha256sum's over the same bytes (payload or CAR file). \"CPU s\" is user + system time of this process (HTTP server and sendfile included) and of the child process, per run: 2 × the wall time is both cores busy. Whole run: {elapsed.TotalSeconds:0} s.");
            md.AppendLine(inv, $"Noise: {load} (from /proc/stat; a quiet machine shows ≈ 0.0; above ≈ 0.2 the numbers are pessimistic).");
            md.AppendLine();
            md.AppendLine("| Method | Bytes in | Median s | Min–max s | Median MB/s | × sha256sum | CPU s | What it does |");
            md.AppendLine("|---|---:|---:|---:|---:|---:|---:|---|");
            foreach (Method m in methods)
            {
                List<Sample> s = samples[m.Name];
                string name = m.Goal ? $"**{m.Name}**" : m.Name;
                md.AppendLine(inv, $"| {name} | {(m.Input == Input.Payload ? "payload" : "CAR")} | {Median(m.Name):0.000} | {s.Min(x => x.Seconds):0.000}–{s.Max(x => x.Seconds):0.000} | {Rate(m) / 1e6:0} | {Rate(m) / BaselineRate(m.Input):0.00} | {Median(m.Name, x => x.CpuSeconds):0.00} | {m.What} |");
            }

            md.AppendLine();
            md.AppendLine("## Goals: at least 1 GB/s and at least 0.8 × sha256sum over the same bytes");
            md.AppendLine();
            md.AppendLine("| Path | Median MB/s | ≥ 1000 MB/s | × sha256sum | ≥ 0.8 × |");
            md.AppendLine("|---|---:|:---:|---:|:---:|");
            foreach (Method m in methods.Where(m => m.Goal))
            {
                double rate = Rate(m);
                double ratio = rate / BaselineRate(m.Input);
                bool absolute = rate >= GoalBytesPerSecond;
                bool relative = ratio >= GoalRatio;
                AllGoalsMet &= absolute && relative;
                md.AppendLine(inv, $"| {m.Name} | {rate / 1e6:0} | {(absolute ? "PASS" : "FAIL")} | {ratio:0.00} | {(relative ? "PASS" : "FAIL")} |");
            }

            md.AppendLine();
            md.AppendLine("## Where the time goes (medians)");
            md.AppendLine();
            double hash = Median(Methods.DotnetMemory) * setup.CarBytes / setup.PayloadBytes;
            double extract = Median(Methods.CarExtract);
            double receive = Median(Methods.CarExtract, s => s.Receive);
            double write = Median(Methods.CarExtract, s => s.Write);
            double verifyOnly = Median(Methods.CarVerifyOnly);
            md.AppendLine(inv, $"CAR path, {extract:0.000} s in all (one sha256 pass over these bytes costs {hash:0.000} s in memory, {setup.CarBytes / hash / 1e6:0} MB/s):");
            md.AppendLine(inv, $"- single pass: blocks are read, verified and (raw leaves) handed to a writer thread as they arrive; the last block is in at {receive:0.000} s, the last write and the rename take {write:0.000} s more;");
            md.AppendLine(inv, $"- CarReader alone (read + parse + verify, one sha256 pass, nothing written) takes {verifyOnly:0.000} s: the extraction is at {verifyOnly / extract:0.00} × that ceiling.");
            double fetch = Median(Methods.HttpFetcher);
            double copy = Median(Methods.HttpCopy);
            double discard = Median(Methods.HttpDiscard);
            long reads = (long)Median(Methods.HttpFetcher, s => s.Reads);
            md.AppendLine();
            double ceiling = Median(Methods.HttpCeiling);
            double previous = Median(Methods.HttpPrevious);
            md.AppendLine(inv, $"HTTP path, {fetch:0.000} s in all (read + write ∥ hash on its own thread, over 1 MiB chunks, ≈ {reads} chunks); the previous 3-stage pipeline in the same run {previous:0.000} s ({previous / fetch:0.00} × the time): the loopback GET alone (body read and dropped) takes {discard:0.000} s; the same pipeline without the hash (the ceiling for any verifying HTTP path on this machine) {ceiling:0.000} s, {setup.PayloadBytes / ceiling / 1e6:0} MB/s, so the fetcher is at {ceiling / fetch:0.00} × its ceiling; the old sequential loop without the hash takes {copy:0.000} s; one in-memory sha256 pass: {Median(Methods.DotnetMemory):0.000} s.");
            md.AppendLine();
            md.AppendLine("What-if prototypes (bench code, not src/; see bench/README.md for the proposed changes):");
            foreach (string name in new[] { Methods.WhatIfCar, Methods.WhatIfCarOverlap })
            {
                Method m = methods.Single(x => x.Name == name);
                md.AppendLine(inv, $"- {m.Name}: {Median(name):0.000} s, {Rate(m) / 1e6:0} MB/s, {Rate(m) / BaselineRate(m.Input):0.00} × sha256sum{(Rate(m) >= GoalBytesPerSecond ? " (would meet 1 GB/s)" : "")}.");
            }

            if (!haveOpenssl)
                md.AppendLine().AppendLine("openssl was not found, so its rows are missing.");
            return md.ToString();
        }

        /// <summary>
        /// One line per goal path, for bench/bundle.sh's last lines and the lead's quiet reruns:
        /// <c>SUMMARY http: 1234 MB/s, 7.10 × sha256sum (174 MB/s), goals 1 GB/s PASS, 0.8 × PASS</c>, then the load.
        /// </summary>
        public List<string> SummaryLines()
        {
            var lines = new List<string>();
            foreach (Method m in methods.Where(m => m.Goal))
            {
                double rate = Rate(m);
                double baseline = BaselineRate(m.Input);
                double ratio = rate / baseline;
                lines.Add(string.Create(CultureInfo.InvariantCulture, $"SUMMARY {Short(m.Name)}: {rate / 1e6:0} MB/s median of {runs}, {ratio:0.00} × sha256sum ({baseline / 1e6:0} MB/s), goals: ≥ 1 GB/s {(rate >= GoalBytesPerSecond ? "PASS" : "FAIL")}, ≥ 0.8 × {(ratio >= GoalRatio ? "PASS" : "FAIL")}"));
            }

            if (methods.Any(m => m.Name == Methods.HttpPrevious))
            {
                Method previous = methods.Single(m => m.Name == Methods.HttpPrevious);
                lines.Add(string.Create(CultureInfo.InvariantCulture, $"SUMMARY http(previous 3-stage, A/B): {Rate(previous) / 1e6:0} MB/s, {Rate(previous) / BaselineRate(previous.Input):0.00} × sha256sum; the new fetcher takes {Median(Methods.HttpFetcher) / Median(previous.Name):0.00} × its time"));
            }

            lines.Add($"SUMMARY noise: {load}");
            return lines;
        }

        public string Csv()
        {
            var csv = new StringBuilder("method,input,bytes,run,seconds,receive_seconds,write_seconds,reads,cpu_seconds\n");
            foreach (Method m in methods)
            {
                for (int i = 0; i < samples[m.Name].Count; i++)
                {
                    Sample s = samples[m.Name][i];
                    csv.AppendLine(CultureInfo.InvariantCulture, $"\"{m.Name}\",{m.Input},{Bytes(m)},{i + 1},{s.Seconds:0.000000},{s.Receive:0.000000},{s.Write:0.000000},{s.Reads},{s.CpuSeconds:0.000000}");
                }
            }

            return csv.ToString();
        }

        public static double Median(IEnumerable<double> values)
        {
            double[] sorted = [.. values.Order()];
            return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
        }

        private static string Machine()
        {
            string cpu = "unknown CPU";
            bool shaNi = false;
            try
            {
                string[] lines = File.ReadAllLines("/proc/cpuinfo");
                cpu = lines.FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? cpu;
                shaNi = lines.Any(l => l.StartsWith("flags", StringComparison.Ordinal) && l.Contains(" sha_ni", StringComparison.Ordinal));
            }
            catch (IOException)
            {
            }

            return $"{cpu}, {Environment.ProcessorCount} cores{(shaNi ? " (SHA-NI)" : "")}, {RuntimeInformation.OSDescription}, {RuntimeInformation.FrameworkDescription} (JIT), {Version("sha256sum", "--version")}, {Version("openssl", "version")}";
        }

        private static string Version(string program, string argument)
        {
            if (Methods.Which(program) is null)
                return $"no {program}";
            var info = new ProcessStartInfo(program, argument) { RedirectStandardOutput = true, UseShellExecute = false };
            using Process process = Process.Start(info)!;
            string first = process.StandardOutput.ReadLine() ?? program;
            process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            return first.Trim();
        }
    }
}
