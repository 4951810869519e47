using System.Diagnostics;
using System.Globalization;
using InfraMind.Node.Receipts;
using InfraMind.Node.Tests.Support;

namespace InfraMind.Node.Tests.Receipts;

/// <summary>
/// SIGKILLs a child process (tests/Infra.ReceiptLogCrash) at random moments while it appends, then checks that
/// every job id it printed (printed only after Append returned) is in the log exactly once and nothing in the
/// middle is damaged. This covers a process crash; a power cut is covered by the torn-tail and zero-fill tests.
/// </summary>
public class ReceiptLogCrashTests
{
    [Fact]
    public async Task Killing_the_writer_at_random_moments_loses_no_acknowledged_receipt()
    {
        using var folder = new TempFolder();
        var printed = new List<string>();
        var random = new Random(20240606);
        for (int round = 0; round < 10; round++)
        {
            List<string> lines = await RunAndKill(folder.Path, first: round * 100_000, delayMs: random.Next(0, 250));
            Assert.StartsWith("recovered ", lines[0], StringComparison.Ordinal);
            Assert.Contains("intact=True", lines[0], StringComparison.Ordinal);
            printed.AddRange(lines.Skip(1));

            using ReceiptLog log = ReceiptLog.Open(folder.Path);
            Assert.True(log.Recovery.MiddleIntact, log.Recovery.Describe());
            var logged = log.All.Select(r => r.JobId).ToList();
            Assert.Equal(logged.Count, logged.Distinct(StringComparer.Ordinal).Count());
            foreach (string job in printed)
                Assert.Contains(job, logged);
        }

        // The rounds must have appended something, or the test proved nothing.
        Assert.True(printed.Count > 10, $"only {printed.Count} receipts were acknowledged in 10 rounds");
    }

    private static async Task<List<string>> RunAndKill(string dir, int first, int delayMs)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(HelperPath());
        start.ArgumentList.Add(dir);
        start.ArgumentList.Add(first.ToString(CultureInfo.InvariantCulture));
        start.ArgumentList.Add("100000");

        using Process process = Process.Start(start)!;
        var lines = new List<string>();
        string? line = await process.StandardOutput.ReadLineAsync();
        if (line is null)
            throw new InvalidOperationException("the crash helper exited at start: " + await process.StandardError.ReadToEndAsync());
        lines.Add(line);

        // Read what it acknowledges while the clock runs, then kill it mid-stride.
        Task reading = Task.Run(async () =>
        {
            while (await process.StandardOutput.ReadLineAsync() is { } next)
            {
                lock (lines)
                    lines.Add(next);
            }
        });
        await Task.Delay(delayMs + 20);
        process.Kill();
        await process.WaitForExitAsync();
        await reading;
        lock (lines)
            return [.. lines];
    }

    private static string HelperPath()
    {
        string root = ReceiptSamples.RepositoryRoot();
        string relative = Path.GetRelativePath(Path.Combine(root, "tests", "Infra.Tests"), AppContext.BaseDirectory);
        string path = Path.Combine(root, "tests", "Infra.ReceiptLogCrash", relative, "Infra.ReceiptLogCrash.dll");
        return File.Exists(path) ? path : throw new FileNotFoundException("build tests/Infra.Tests first; it builds the crash helper", path);
    }
}
