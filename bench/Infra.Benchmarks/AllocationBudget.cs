using BenchmarkDotNet.Reports;

namespace InfraMind.Node.Benchmarks;

/// <summary>
/// The allocation rule for hashing, HTTP parsing, whole listener requests and the known-signer check: every benchmark whose method name starts with one of
/// <see cref="BudgetedPrefixes"/> must allocate at most <see cref="MaxBytesPerOperation"/> bytes per operation
/// (<see cref="BackgroundAllowance"/> for benchmarks whose work runs on the runtime's pool threads).
/// Checked on BenchmarkDotNet's summaries after a run; any benchmark that failed to build or run fails too.
/// </summary>
internal static class AllocationBudget
{
    public const long MaxBytesPerOperation = 0;

    /// <summary>
    /// HttpServe* serves real requests on pool threads, so BenchmarkDotNet counts every thread's allocations: the pool's
    /// own bookkeeping and the server's once-a-second heartbeat showed as 1 B/op in one of five runs. Anything a
    /// request itself allocates (a box, a closure, a string: 24 B and up) is still over this.
    /// </summary>
    public const long BackgroundAllowance = 8;

    private static readonly string[] SharedThreadPrefixes = ["HttpServe"];

    /// <summary>
    /// Keccak1MiB runs a few milliseconds an operation, so the few operations of a run share whatever the runtime's own
    /// threads allocate meanwhile: 48 B/op in one fresh-clone CI run. Keccak1KiB, the same code per block, holds the
    /// 0 B/op rule; an allocation per block here would be 24 B × 7,710 blocks, about 185 KB/op.
    /// </summary>
    public const long LongOperationAllowance = 256;

    private static readonly string[] LongOperationNames = ["Keccak1MiB"];

    public static readonly IReadOnlyList<string> BudgetedPrefixes = ["Keccak", "Eip712", "HttpParse", "HttpServe", "FrameDemux", "Secp256k1VerifyKnownSigner"];

    public static bool IsBudgeted(string benchmarkName) =>
        BudgetedPrefixes.Any(prefix => benchmarkName.StartsWith(prefix, StringComparison.Ordinal));

    public static long BudgetOf(string benchmarkName) =>
        LongOperationNames.Contains(benchmarkName, StringComparer.Ordinal) ? LongOperationAllowance
        : SharedThreadPrefixes.Any(prefix => benchmarkName.StartsWith(prefix, StringComparison.Ordinal)) ? BackgroundAllowance
        : MaxBytesPerOperation;

    /// <summary>Writes one line per budgeted benchmark and per problem; true when everything passed.</summary>
    public static bool Check(IReadOnlyList<Summary> summaries, TextWriter output)
    {
        var failures = new List<string>();
        int budgeted = 0;

        foreach (Summary summary in summaries)
        {
            foreach (var error in summary.ValidationErrors.Where(e => e.IsCritical))
                failures.Add($"validation error: {error.Message}");

            var reported = summary.Reports.Select(r => r.BenchmarkCase).ToHashSet();
            foreach (var missing in summary.BenchmarksCases.Where(c => !reported.Contains(c)))
                failures.Add($"{missing.Descriptor.WorkloadMethod.Name}: no report (did not run)");

            foreach (BenchmarkReport report in summary.Reports)
            {
                string name = report.BenchmarkCase.Descriptor.WorkloadMethod.Name;
                if (!report.Success)
                {
                    failures.Add($"{name}: failed to build or run; see the log under {summary.LogFilePath}");
                    continue;
                }

                if (!IsBudgeted(name))
                    continue;

                budgeted++;
                long? bytes = report.GcStats.GetBytesAllocatedPerOperation(report.BenchmarkCase);
                if (bytes is null)
                    failures.Add($"{name}: allocations were not measured (is [MemoryDiagnoser] on?)");
                else if (bytes > BudgetOf(name))
                    failures.Add($"{name}: allocated {bytes} B/op; the budget is {BudgetOf(name)} B/op");
                else
                    output.WriteLine($"allocation budget: ok   {name}: {bytes} B/op (budget {BudgetOf(name)})");
            }
        }

        if (budgeted == 0)
            failures.Add($"no benchmark named {string.Join(" or ", BudgetedPrefixes.Select(p => p + "*"))} ran, so nothing was checked");

        foreach (string failure in failures)
            output.WriteLine($"allocation budget: FAIL {failure}");
        output.WriteLine(failures.Count == 0
            ? $"allocation budget: passed ({budgeted} benchmarks within their budgets)"
            : $"allocation budget: FAILED ({failures.Count} problem(s))");
        return failures.Count == 0;
    }
}
