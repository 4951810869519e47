using InfraMind.Node.Crypto;
using InfraMind.Node.Tests.Support;

namespace InfraMind.Node.Tests.Cli;

/// <summary>The `infra` executable as an operator uses it: exit codes, help, one-line errors.</summary>
public class CliTests
{
    [Theory]
    [InlineData("init")]
    [InlineData("cache")]
    [InlineData("sandbox")]
    [InlineData("run")]
    [InlineData("doctor")]
    [InlineData("version")]
    public void Every_command_has_help(string command)
    {
        using var temp = new TempFolder();
        foreach (string[] args in new[] { new[] { command, "--help" }, new[] { command, "-h" }, new[] { "help", command } })
        {
            InfraProcess.Result result = InfraProcess.Run(temp.Path, null, args);
            Assert.Equal(0, result.ExitCode);
            Assert.Contains($"Usage: infra {command}", result.StdOut, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Top_level_help_lists_the_commands_and_no_arguments_is_a_usage_error()
    {
        using var temp = new TempFolder();
        InfraProcess.Result help = InfraProcess.Run(temp.Path, null, "--help");
        Assert.Equal(0, help.ExitCode);
        foreach (string command in new[] { "init", "run", "doctor", "version" })
            Assert.Contains($"  {command}", help.StdOut, StringComparison.Ordinal);

        InfraProcess.Result bare = InfraProcess.Run(temp.Path, null);
        Assert.Equal(2, bare.ExitCode);
        Assert.Contains("Usage: infra <command>", bare.StdErr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(new[] { "frobnicate" }, "unknown command 'frobnicate'")]
    [InlineData(new[] { "init", "--keygen", "--forse" }, "unknown option '--forse'")]
    [InlineData(new[] { "init" }, "add --keygen")]
    [InlineData(new[] { "init", "--keygen", "--identity" }, "needs a value")]
    [InlineData(new[] { "init", "--keygen", "--force=yes" }, "takes no value")]
    [InlineData(new[] { "version", "extra" }, "unexpected argument 'extra'")]
    [InlineData(new[] { "run", "--config", "/nonexistent.yaml" }, "does not exist")]
    public void Usage_and_configuration_errors_exit_2_with_one_line(string[] args, string expected)
    {
        using var temp = new TempFolder();
        InfraProcess.Result result = InfraProcess.Run(temp.Path, null, args);
        Assert.Equal(2, result.ExitCode);
        string line = Assert.Single(result.StdErr.TrimEnd('\n').Split('\n'));
        Assert.Matches("^infra( [a-z]+)?: ", line);
        Assert.Contains(expected, line, StringComparison.Ordinal);
        Assert.Equal(string.Empty, result.StdOut);
    }

    [Fact]
    public void Cache_ls_and_prune_work_on_the_configured_cache()
    {
        using var temp = new TempFolder();
        var env = new Dictionary<string, string> { ["INFRAMIND_CACHE_DIR"] = temp["cache"], ["INFRAMIND_CACHE_MAX_BYTES"] = "1Gi" };
        var cache = new InfraMind.Node.Models.Cache.BundleCache(temp["cache"], 1L << 30);
        string staging = cache.CreateStaging();
        File.WriteAllBytes(Path.Combine(staging, "model.yaml"), new byte[2048]);
        cache.Commit("QmTestBundleKey", staging);

        InfraProcess.Result ls = InfraProcess.Run(temp.Path, env, "cache", "ls");
        Assert.Equal(0, ls.ExitCode);
        Assert.Contains("QmTestBundleKey", ls.StdOut, StringComparison.Ordinal);
        Assert.Contains("1 bundle(s), 2Ki of 1Gi budget", ls.StdOut, StringComparison.Ordinal);

        Assert.Equal(0, InfraProcess.Run(temp.Path, env, "cache", "pin", "QmTestBundleKey").ExitCode);
        Assert.Contains("0 bundle(s) evicted", InfraProcess.Run(temp.Path, env, "cache", "prune").StdOut, StringComparison.Ordinal);
        Assert.Equal(0, InfraProcess.Run(temp.Path, env, "cache", "unpin", "QmTestBundleKey").ExitCode);
        Assert.Contains("evicted QmTestBundleKey", InfraProcess.Run(temp.Path, env, "cache", "prune").StdOut, StringComparison.Ordinal);
        Assert.Equal(1, InfraProcess.Run(temp.Path, env, "cache", "pin", "QmGone").ExitCode);
        Assert.Equal(2, InfraProcess.Run(temp.Path, env, "cache").ExitCode);
    }

    [Fact]
    public void Version_prints_the_version_and_platform()
    {
        using var temp = new TempFolder();
        InfraProcess.Result result = InfraProcess.Run(temp.Path, null, "version");
        Assert.Equal(0, result.ExitCode);
        Assert.Matches(@"^infra \d+\.\d+\.\d+\S* \(linux-(x64|arm64)\)\n$", result.StdOut);
    }

    /// <summary>The issue's acceptance walk: keygen, refusal to overwrite, then doctor on an opened-up key.</summary>
    [Fact]
    public void Keygen_refuses_to_overwrite_and_doctor_flags_an_open_key()
    {
        using var temp = new TempFolder();
        string key = temp["k/identity.key"];

        InfraProcess.Result created = InfraProcess.Run(temp.Path, null, "init", "--keygen", "--identity", key);
        Assert.Equal(0, created.ExitCode);
        string printed = created.StdOut.Trim();
        Assert.True(Address.TryParse(printed, out Address address), $"not an address: {printed}");
        Assert.Equal(address.ToString(), printed); // printed in its EIP-55 checksummed form
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(key));
        string original = File.ReadAllText(key);

        InfraProcess.Result again = InfraProcess.Run(temp.Path, null, "init", "--keygen", "--identity", key);
        Assert.Equal(2, again.ExitCode);
        Assert.Contains("--force", again.StdErr, StringComparison.Ordinal);
        Assert.Equal(original, File.ReadAllText(key));

        var env = new Dictionary<string, string> { ["INFRAMIND_NODE_IDENTITY"] = key };
        InfraProcess.Result healthy = InfraProcess.Run(temp.Path, env, "doctor");
        Assert.Contains($"ok    identity    node {printed}", healthy.StdOut, StringComparison.Ordinal);

        File.SetUnixFileMode(key, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        InfraProcess.Result doctor = InfraProcess.Run(temp.Path, env, "doctor");
        Assert.Equal(1, doctor.ExitCode);
        Assert.Contains("FAIL  identity", doctor.StdOut, StringComparison.Ordinal);
        Assert.Contains("open to group or others (mode 0644)", doctor.StdOut, StringComparison.Ordinal);
        Assert.Contains($"fix: chmod 600 {key}", doctor.StdOut, StringComparison.Ordinal);

        InfraProcess.Result run = InfraProcess.Run(temp.Path, env, "run");
        Assert.Equal(1, run.ExitCode);
        Assert.Contains("open to group or others", run.StdErr, StringComparison.Ordinal);

        InfraProcess.Result forced = InfraProcess.Run(temp.Path, null, "init", "--keygen", "--identity", key, "--force");
        Assert.Equal(0, forced.ExitCode);
        Assert.NotEqual(printed, forced.StdOut.Trim());
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(key));
    }

    [Fact]
    public void Keygen_uses_node_identity_from_the_configuration_by_default()
    {
        using var temp = new TempFolder();
        InfraProcess.Result result = InfraProcess.Run(temp.Path, null, "init", "--keygen");
        Assert.Equal(0, result.ExitCode);
        string key = Path.Combine(temp.Path, ".inframind", "identity.key");
        Assert.True(File.Exists(key));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(Path.GetDirectoryName(key)!));
    }

    [Fact]
    public void Doctor_reports_a_bad_configuration_with_its_line_and_still_checks_the_rest()
    {
        using var temp = new TempFolder();
        string config = temp.Write("config.yaml", "node:\n  region: eu\nlistener:\n  port: ninety\n");
        InfraProcess.Result result = InfraProcess.Run(temp.Path, null, "doctor", "--config", config);
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("FAIL  config      config.yaml line 4: listener.port", result.StdOut, StringComparison.Ordinal);
        Assert.Contains("identity", result.StdOut, StringComparison.Ordinal);
        Assert.Contains("clock", result.StdOut, StringComparison.Ordinal);
    }
}
