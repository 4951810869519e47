using System.Diagnostics;
using InfraMind.Node.Tests.Configuration;
using InfraMind.Node.Tests.Support;

namespace InfraMind.Node.Tests.Control;

/// <summary>The .proto files are the contract other stacks build against: they must compile outside .NET too.</summary>
public class ProtoContractTests
{
    private static (int ExitCode, string Output) RunScript(string script)
    {
        var start = new ProcessStartInfo("bash", [script]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using Process process = Process.Start(start)!;
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        Assert.True(process.WaitForExit(60_000), "check-protos.sh did not finish in 60 s");
        return (process.ExitCode, stdout.Result + stderr.Result);
    }

    [Fact]
    public void The_protos_compile_with_python_grpc_tools()
    {
        (int exitCode, string output) = RunScript(Path.Combine(ConfigLoaderTests.RepoRoot(), "scripts", "check-protos.sh"));
        Assert.True(exitCode == 0, output);
        Assert.Contains("ok: src/Infra/Protos/mesh.proto", output, StringComparison.Ordinal);
        Assert.Contains("ok: src/Infra/Protos/control.proto", output, StringComparison.Ordinal);
    }

    [Fact]
    public void The_check_fails_on_a_broken_proto()
    {
        // The same script in a copy of the tree whose mesh.proto lost a semicolon: the check must catch it.
        using var temp = new TempFolder();
        string root = ConfigLoaderTests.RepoRoot();
        temp.Write("scripts/check-protos.sh", File.ReadAllText(Path.Combine(root, "scripts", "check-protos.sh")));
        temp.Write("src/Infra/Protos/control.proto", File.ReadAllText(Path.Combine(root, "src", "Infra", "Protos", "control.proto")));
        string mesh = File.ReadAllText(Path.Combine(root, "src", "Infra", "Protos", "mesh.proto"));
        temp.Write("src/Infra/Protos/mesh.proto", mesh.Replace("string job_id = 1;", "string job_id = 1", StringComparison.Ordinal));

        (int exitCode, string output) = RunScript(temp["scripts/check-protos.sh"]);
        Assert.NotEqual(0, exitCode);
        Assert.Contains("mesh.proto does not compile", output, StringComparison.Ordinal);
        Assert.Contains("ok: src/Infra/Protos/control.proto", output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("status")]
    [InlineData("jobs")]
    [InlineData("drain")]
    public void The_control_commands_have_help(string command)
    {
        using var temp = new TempFolder();
        InfraProcess.Result result = InfraProcess.Run(temp.Path, null, command, "--help");
        Assert.Equal(0, result.ExitCode);
        Assert.Contains($"Usage: infra {command}", result.StdOut, StringComparison.Ordinal);
    }

    [Fact]
    public void Jobs_takes_only_watch_as_an_action()
    {
        using var temp = new TempFolder();
        InfraProcess.Result result = InfraProcess.Run(temp.Path, null, "jobs", "wach");
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("unexpected argument 'wach'", result.StdErr, StringComparison.Ordinal);
    }
}
