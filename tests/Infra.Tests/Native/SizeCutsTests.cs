using System.Diagnostics;
using System.Text.RegularExpressions;
using InfraMind.Node.Jobs.Validation;
using InfraMind.Node.Tests.Support;

namespace InfraMind.Node.Tests.Native;

/// <summary>
/// src/Infra/Size.Substitutions.xml removes Regex's NonBacktracking engine and protobuf's text formatter from the
/// native binary. These tests hold the assumptions that makes safe, and (with INFRA_BIN set) prove that the
/// binary's remaining Regex interpreter, YAML parser and protobuf codec still do their jobs.
/// </summary>
public sealed class SizeCutsTests : IDisposable
{
    private readonly TempFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void Schema_patterns_never_ask_for_the_removed_NonBacktracking_engine()
    {
        var pattern = new Pattern("^a+$");
        Assert.Equal(RegexOptions.None, pattern.Regex.Options & (RegexOptions.NonBacktracking | RegexOptions.Compiled));
        Assert.Matches(pattern.Regex, "aaa");
        Assert.DoesNotMatch(pattern.Regex, "aab");
    }

    [Fact]
    public async Task The_binary_validates_schema_patterns_and_answers_status()
    {
        // Reading config.yaml runs YamlDotNet's parser, whose default tag directives are checked with a Regex;
        // a job's "pattern" keyword runs the interpreter on outside input; `infra status` decodes protobuf replies.
        int port = FreePorts.Next();
        Assert.Equal(0, InfraProcess.Run(_temp.Path, null, "init", "--keygen", "--identity", _temp["node.key"]).ExitCode);
        InfraProcess.Result scheduler = InfraProcess.Run(_temp.Path, null, "init", "--keygen", "--identity", _temp["sched.key"]);
        Assert.True(scheduler.ExitCode == 0, scheduler.StdErr);
        string schedulerAddress = scheduler.StdOut.Trim().Split('\n')[^1];
        string config = _temp.Write("config.yaml",
            $"node:\n  identity: {_temp["node.key"]}\n  state_dir: {_temp["state"]}\n" +
            $"listener:\n  bind: 127.0.0.1\n  port: {port}\ncontrol:\n  socket: {_temp["control.sock"]}\n" +
            $"mesh:\n  trusted_schedulers: [{schedulerAddress}]\n");

        using Process node = InfraProcess.Start(_temp.Path, null, "run", "--config", config);
        try
        {
            await WaitHealthyAsync(port, node);
            string schema = """{"type":"string","pattern":"^a+$"}""";
            InfraProcess.Result Submit(string inputSchema, string input) => InfraProcess.Run(_temp.Path, null,
                "jobs", "submit", "--key", _temp["sched.key"], "--model", "sha256:" + new string('0', 64),
                "--uri", "http://127.0.0.1:1/bundle.tar", "--input-schema", inputSchema, "--input", input,
                "--url", $"http://127.0.0.1:{port}", "--config", config);

            InfraProcess.Result refused = await Task.Run(() => Submit(schema, "\"aab\""));
            Assert.Equal(1, refused.ExitCode);
            Assert.Contains("422 input_invalid", refused.StdErr, StringComparison.Ordinal);
            Assert.Contains("pattern: it does not match \"^a+$\"", refused.StdErr, StringComparison.Ordinal);

            InfraProcess.Result accepted = await Task.Run(() => Submit(schema, "\"aaa\""));
            Assert.True(accepted.ExitCode == 0, accepted.StdErr);

            InfraProcess.Result broken = await Task.Run(() => Submit("""{"pattern":"(a"}""", "\"a\""));
            Assert.Equal(1, broken.ExitCode);
            Assert.Contains("is not a valid regular expression", broken.StdErr, StringComparison.Ordinal);

            InfraProcess.Result status = await Task.Run(() => InfraProcess.Run(_temp.Path, null, "status", "--config", config));
            Assert.True(status.ExitCode == 0, status.StdErr);
            Assert.StartsWith("Node ID:        0x", status.StdOut, StringComparison.Ordinal);
        }
        finally
        {
            node.Kill(entireProcessTree: true);
            await node.WaitForExitAsync();
        }
    }

    private static async Task WaitHealthyAsync(int port, Process node)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        for (int i = 0; i < 150; i++)
        {
            if (node.HasExited)
                Assert.Fail($"infra run exited {node.ExitCode}: {await node.StandardError.ReadToEndAsync()}");
            try
            {
                using HttpResponseMessage response = await http.GetAsync(new Uri($"http://127.0.0.1:{port}/healthz"));
                if (response.IsSuccessStatusCode)
                    return;
            }
            catch (HttpRequestException)
            {
                // not listening yet
            }

            await Task.Delay(200);
        }

        Assert.Fail($"infra run ({InfraProcess.Describe}) did not answer /healthz within 30 s");
    }
}
