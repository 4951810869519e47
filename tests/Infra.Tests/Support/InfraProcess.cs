using System.Diagnostics;

namespace InfraMind.Node.Tests.Support;

/// <summary>
/// Runs the real `infra` executable: the native binary named by INFRA_BIN (make test sets it to
/// dist/infra-linux-x64 after build.sh), else the JIT build beside the tests.
/// </summary>
public static class InfraProcess
{
    public sealed record Result(int ExitCode, string StdOut, string StdErr);

    public static string Describe => Environment.GetEnvironmentVariable("INFRA_BIN") is { Length: > 0 } bin ? bin : "dotnet infra.dll (JIT)";

    public static Result Run(string home, IDictionary<string, string>? environment, params string[] args)
    {
        using Process process = Start(home, environment, args);
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(60_000))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"infra {string.Join(' ', args)} did not finish in 60 s");
        }

        return new Result(process.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>Starts `infra` without waiting: for tests that signal or kill it mid-run.</summary>
    public static Process Start(string home, IDictionary<string, string>? environment, params string[] args)
    {
        string? native = Environment.GetEnvironmentVariable("INFRA_BIN");
        var start = new ProcessStartInfo
        {
            FileName = string.IsNullOrEmpty(native) ? "dotnet" : native,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (string.IsNullOrEmpty(native))
            start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "infra.dll"));
        foreach (string arg in args)
            start.ArgumentList.Add(arg);

        // A clean environment: no INFRAMIND_ variables leak in from the machine running the tests.
        foreach (string key in start.Environment.Keys.Where(k => k.StartsWith("INFRAMIND_", StringComparison.Ordinal)).ToList())
            start.Environment.Remove(key);
        start.Environment["HOME"] = home;
        foreach ((string key, string value) in environment ?? new Dictionary<string, string>())
            start.Environment[key] = value;

        start.RedirectStandardInput = true;
        return Process.Start(start)!;
    }
}
