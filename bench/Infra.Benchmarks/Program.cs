using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Exporters;
using BenchmarkDotNet.Exporters.Csv;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Loggers;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace InfraMind.Node.Benchmarks;

/// <summary>
/// BenchmarkSwitcher front end; every BenchmarkDotNet option works (--filter, --job, --list flat, ...).
/// Our one extra option, --budget, runs a short job over every benchmark (unless --filter is given) and exits 1
/// when <see cref="AllocationBudget"/> fails; --budget-only does the same over the budgeted benchmarks alone (CI's
/// check, about 2 minutes). Results land in bench/results/ unless --artifacts says otherwise.
/// </summary>
internal static class Program
{
    private const string BudgetOption = "--budget";
    private const string BudgetOnlyOption = "--budget-only";

    public static int Main(string[] args)
    {
        bool budgetOnly = args.Contains(BudgetOnlyOption, StringComparer.Ordinal);
        bool budget = budgetOnly || args.Contains(BudgetOption, StringComparer.Ordinal);
        List<string> switcherArgs = [.. args.Where(a => a != BudgetOption && a != BudgetOnlyOption)];
        if (budget && !switcherArgs.Contains("--filter", StringComparer.Ordinal) && !switcherArgs.Contains("-f", StringComparer.Ordinal))
        {
            switcherArgs.Add("--filter");
            switcherArgs.AddRange(budgetOnly ? AllocationBudget.BudgetedPrefixes.Select(prefix => $"*.{prefix}*") : ["*"]);
        }

        IConfig config = CreateConfig(budget);
        List<Summary> summaries = [.. BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run([.. switcherArgs], config)];

        if (budget)
            return AllocationBudget.Check(summaries, Console.Out) ? 0 : 1;
        return summaries.All(s => s.Reports.All(r => r.Success) && !s.HasCriticalValidationErrors) ? 0 : 1;
    }

    private static ManualConfig CreateConfig(bool budget)
    {
        ManualConfig config = ManualConfig.CreateEmpty()
            .AddColumnProvider(DefaultColumnProviders.Instance)
            .AddLogger(ConsoleLogger.Default)
            .AddAnalyser([.. DefaultConfig.Instance.GetAnalysers()])
            .AddValidator([.. DefaultConfig.Instance.GetValidators()])
            .AddDiagnoser(MemoryDiagnoser.Default)
            .AddExporter(MarkdownExporter.GitHub, CsvExporter.Default)
            .WithArtifactsPath(DefaultArtifactsPath());

        // Short and fixed, for `make bench`: one process, 3 warmup and 5 measured iterations per benchmark.
        if (budget)
            config.AddJob(Job.Default.WithLaunchCount(1).WithWarmupCount(3).WithIterationCount(5).WithId("Budget"));
        return config;
    }

    /// <summary>bench/results of the checkout this binary was built in; the working folder's when not found.</summary>
    private static string DefaultArtifactsPath()
    {
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
        {
            if (File.Exists(Path.Combine(folder.FullName, "inframind-node.sln")))
                return Path.Combine(folder.FullName, "bench", "results");
        }

        return Path.Combine(Directory.GetCurrentDirectory(), "BenchmarkDotNet.Artifacts");
    }
}
