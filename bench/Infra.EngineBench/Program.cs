using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Exporters;
using BenchmarkDotNet.Exporters.Csv;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Loggers;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace InfraMind.Node.EngineBench;

/// <summary>
/// <c>lifecycle ...</c>: the whole-lifecycle comparison (<see cref="LifecycleBench"/>).
/// <c>roundtrips [BenchmarkDotNet options]</c>: <see cref="RoundTripBenchmarks"/> with a short job
/// (1 launch, 3 warmup, 15 measured iterations) unless --job is given; reports go to bench/results/engine.
/// </summary>
internal static class Program
{
    public static async Task<int> Main(string[] args)
    {
        switch (args.FirstOrDefault())
        {
            case "lifecycle":
                return await LifecycleBench.RunAsync(args[1..]).ConfigureAwait(false);
            case "roundtrips":
                return RoundTrips(args[1..]);
            default:
                await Console.Error.WriteLineAsync("usage: Infra.EngineBench lifecycle [options] | roundtrips [BenchmarkDotNet options]").ConfigureAwait(false);
                return 2;
        }
    }

    private static int RoundTrips(string[] args)
    {
        ManualConfig config = ManualConfig.CreateEmpty()
            .AddColumnProvider(DefaultColumnProviders.Instance)
            .AddLogger(ConsoleLogger.Default)
            .AddAnalyser([.. DefaultConfig.Instance.GetAnalysers()])
            .AddValidator([.. DefaultConfig.Instance.GetValidators()])
            .AddDiagnoser(MemoryDiagnoser.Default)
            .AddExporter(MarkdownExporter.GitHub, CsvExporter.Default)
            .WithArtifactsPath(Path.Combine(RepositoryRoot(), "bench", "results", "engine"));
        List<string> switcherArgs = [.. args];
        if (!args.Contains("--job", StringComparer.Ordinal) && !args.Contains("-j", StringComparer.Ordinal))
            config.AddJob(Job.Default.WithLaunchCount(1).WithWarmupCount(3).WithIterationCount(15).WithId("Short"));
        if (!args.Contains("--filter", StringComparer.Ordinal) && !args.Contains("-f", StringComparer.Ordinal))
            switcherArgs.AddRange(["--filter", "*"]);

        List<Summary> summaries = [.. BenchmarkSwitcher.FromTypes([typeof(RoundTripBenchmarks)]).Run([.. switcherArgs], config)];
        return summaries.Count > 0 && summaries.All(s => s.Reports.All(r => r.Success) && !s.HasCriticalValidationErrors) ? 0 : 1;
    }

    /// <summary>The checkout this binary was built in (where inframind-node.sln is); the working folder if not found.</summary>
    internal static string RepositoryRoot()
    {
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
        {
            if (File.Exists(Path.Combine(folder.FullName, "inframind-node.sln")))
                return folder.FullName;
        }

        return Directory.GetCurrentDirectory();
    }
}
