using InfraMind.Node.Configuration;
using InfraMind.Node.Doctor;
using InfraMind.Node.Errors;

namespace InfraMind.Node.Cli;

/// <summary>`infra doctor`: one line per preflight check, the fix under each failure, exit 1 if any failed.</summary>
public static class DoctorCommand
{
    public static readonly CommandSpec Spec = new(
        "doctor",
        "check this host: configuration, key, disk, engine, clock",
        "infra doctor [--config PATH]",
        [
            new("--config", "PATH", "configuration file to check (default: the one `infra run` would use)"),
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
        foreach (CheckResult result in results)
        {
            string label = result.Outcome switch
            {
                CheckOutcome.Ok => "ok  ",
                CheckOutcome.Warning => "warn",
                _ => "FAIL",
            };
            Console.Out.WriteLine($"{label}  {result.Name,-11} {result.Detail}");
            if (result.Fix is not null)
                Console.Out.WriteLine($"      {string.Empty,-11} fix: {result.Fix}");
        }

        int failed = results.Count(r => r.Outcome == CheckOutcome.Failed);
        Console.Out.WriteLine(failed == 0 ? "all checks passed" : $"{failed} check(s) failed");
        return failed == 0 ? 0 : 1;
    }
}
