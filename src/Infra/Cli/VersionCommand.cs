namespace InfraMind.Node.Cli;

/// <summary>`infra version`: what this binary is. Kept free of any startup work so it answers at once.</summary>
public static class VersionCommand
{
    public static readonly CommandSpec Spec = new(
        "version",
        "print the version, commit and platform",
        "infra version",
        [new("--help", null, "show this help")],
        _ =>
        {
            Console.Out.WriteLine($"infra {BuildInfo.Version} ({BuildInfo.Platform})");
            return 0;
        });
}
