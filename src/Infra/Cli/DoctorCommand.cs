using System.Text.Json;
using System.Text.Json.Serialization;
using InfraMind.Node.Configuration;
using InfraMind.Node.Doctor;
using InfraMind.Node.Errors;

namespace InfraMind.Node.Cli;

/// <summary>`infra doctor`: one line per preflight check, the fix under each failure, exit 1 if any failed.</summary>
public static class DoctorCommand
{
    public static readonly CommandSpec Spec = new(
        "doctor",
        "check this host: configuration, key, disk, cgroups, engine, GPU, clock, ports",
        "infra doctor [--json] [--config PATH]",
        [
            new("--config", "PATH", "configuration file to check (default: the one `infra run` would use)"),
            new("--json", null, "print the checks as JSON: {\"checks\": [{name, outcome, detail, fix}], \"failed\": N}"),
            new("--help", null, "show this help"),
        ],
        Run);

    private static int Run(ParsedArguments args)
    {
        HostPaths host = HostPaths.Current();
        var results = new List<CheckResult>();
        NodeConfig config;
        try
        {
            config = Program.LoadConfig(args);
            results.Add(CheckResult.Ok("config", config.Source));
        }
        catch (InfraException e) when (e.Kind == FailureKind.Configuration)
        {
            // Report it, then check the rest against the defaults so one bad key does not hide other problems.
            results.Add(CheckResult.FromError("config", e.Message));
            config = new NodeConfig(host);
        }

        results.AddRange(HostChecks.RunAll(config, host));
        if (args.Has("--json"))
            Console.Out.WriteLine(ToJson(results));
        else
            Write(results, Console.Out);
        return results.Any(r => r.Outcome == CheckOutcome.Failed) ? 1 : 0;
    }

    /// <summary>The text report: "LABEL  NAME  DETAIL", a "fix:" line under each failure and warning, and a summary.</summary>
    internal static void Write(IReadOnlyList<CheckResult> results, TextWriter output)
    {
        foreach (CheckResult result in results)
        {
            string label = result.Outcome switch
            {
                CheckOutcome.Ok => "ok  ",
                CheckOutcome.Warning => "warn",
                CheckOutcome.Skipped => "skip",
                _ => "FAIL",
            };
            output.WriteLine($"{label}  {result.Name,-11} {result.Detail}");
            if (result.Fix is not null)
                output.WriteLine($"      {string.Empty,-11} fix: {result.Fix}");
        }

        int failed = results.Count(r => r.Outcome == CheckOutcome.Failed);
        int warned = results.Count(r => r.Outcome == CheckOutcome.Warning);
        string warnings = warned == 0 ? string.Empty : $" ({warned} warning(s))";
        output.WriteLine(failed == 0 ? $"all checks passed{warnings}" : $"{failed} check(s) failed{warnings}");
    }

    internal static string ToJson(IReadOnlyList<CheckResult> results)
    {
        var report = new DoctorReport(
            [.. results.Select(r => new DoctorLine(r.Name, r.Outcome.ToString().ToLowerInvariant(), r.Detail, r.Fix))],
            results.Count(r => r.Outcome == CheckOutcome.Failed));
        return JsonSerializer.Serialize(report, DoctorJsonContext.Default.DoctorReport);
    }
}

internal sealed record DoctorLine(string Name, string Outcome, string Detail, string? Fix);

internal sealed record DoctorReport(IReadOnlyList<DoctorLine> Checks, int Failed);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(DoctorReport))]
internal sealed partial class DoctorJsonContext : JsonSerializerContext;
