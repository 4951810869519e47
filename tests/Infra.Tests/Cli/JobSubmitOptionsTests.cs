using System.Diagnostics;
using System.Text;
using InfraMind.Node.Cli;
using InfraMind.Node.Crypto;
using InfraMind.Node.Crypto.Eip712;
using InfraMind.Node.Errors;
using InfraMind.Node.Jobs.Intake;
using JobJson = InfraMind.Node.Jobs.Intake.JobJson;
using InfraMind.Node.Tests.Receipts;
using InfraMind.Node.Tests.Support;

namespace InfraMind.Node.Tests.Cli;

/// <summary>`infra jobs submit` option checks, the signed JSON it sends, and the node answers it reads.</summary>
public sealed class JobSubmitOptionsTests : IDisposable
{
    private static readonly string[] Base = ["--key", "/k", "--model", "sha256:00", "--uri", "http://h/b.tar.gz", "--chain-id", "5"];

    private readonly TempFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    private static JobSubmitCommand.Options Read(params string[] extra) =>
        JobSubmitCommand.ReadOptions(ParsedArguments.Parse(JobSubmitCommand.Spec, [.. Base, .. extra]));

    [Theory]
    [InlineData(new[] { "--input", "x", "--input-file", "f" }, "not both")]
    [InlineData(new string[0], "give the input with --input TEXT or --input-file FILE")]
    [InlineData(new[] { "--input", "x", "--node", "0x12" }, "--node '0x12' is not an address")]
    [InlineData(new[] { "--input", "x", "--job-id", "a/b" }, "--job-id must be")]
    [InlineData(new[] { "--input", "x", "--deadline-in", "0" }, "--deadline-in expects whole seconds")]
    [InlineData(new[] { "--input", "x", "--deadline-in", "-5" }, "--deadline-in expects whole seconds")]
    [InlineData(new[] { "--input", "x", "--input-schema", "{\"type\":" }, "--input-schema looks like a JSON Schema but is not valid JSON")]
    [InlineData(new[] { "--input", "x", "--output-schema", "{} {}" }, "--output-schema looks like a JSON Schema but is not valid JSON")]
    [InlineData(new[] { "--input", "x", "--entrypoint", "a\nb" }, "--entrypoint contains control characters")]
    [InlineData(new[] { "--input", "x", "--wait", "--json" }, "drop --json")]
    [InlineData(new[] { "--input-file", "/nonexistent/input" }, "cannot read --input-file /nonexistent/input")]
    public void Bad_options_are_usage_errors_that_say_what_to_fix(string[] extra, string expected)
    {
        InfraException e = Assert.Throws<InfraException>(() => Read(extra));
        Assert.Equal(2, e.ExitCode);
        Assert.StartsWith("infra jobs submit: ", e.Message, StringComparison.Ordinal);
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--key")]
    [InlineData("--model")]
    [InlineData("--uri")]
    public void Each_required_option_is_named_when_missing(string option)
    {
        List<string> args = [.. Base, "--input", "x"];
        int at = args.IndexOf(option);
        args.RemoveRange(at, 2);
        InfraException e = Assert.Throws<InfraException>(() => JobSubmitCommand.ReadOptions(ParsedArguments.Parse(JobSubmitCommand.Spec, args.ToArray())));
        Assert.Contains($"{option} is required", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Defaults_and_a_json_schema_compacted_to_the_signed_text()
    {
        JobSubmitCommand.Options o = Read("--input", "hi", "--output-schema", "{ \"type\": \"array\",\n \"items\": { \"type\": \"number\" } }");
        Assert.Equal("text", o.InputSchema);
        Assert.Equal("{\"type\":\"array\",\"items\":{\"type\":\"number\"}}", o.OutputSchema);
        Assert.Equal(300UL, o.DeadlineIn);
        Assert.Equal(5UL, o.ChainId);
        Assert.Equal(JobSubmitCommand.DefaultUrl, o.Url);
        Assert.Equal("", o.Entrypoint);
        Assert.Matches("^[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}$", o.JobId);
        Assert.NotEqual(o.JobId, Read("--input", "hi").JobId);
    }

    [Fact]
    public void Input_files_are_read_as_utf8_and_binary_or_oversized_ones_are_refused()
    {
        string text = _temp.Write("in.txt", "héllo\n");
        Assert.Equal("héllo\n", Read("--input-file", text).Input);

        string binary = _temp["bin"];
        File.WriteAllBytes(binary, [0x68, 0xff, 0xfe]);
        Assert.Contains("is not UTF-8 text", Assert.Throws<InfraException>(() => Read("--input-file", binary)).Message, StringComparison.Ordinal);

        string big = _temp["big"];
        File.WriteAllBytes(big, new byte[JobJson.DefaultMaxBytes]);
        Assert.Contains("a job's input must fit", Assert.Throws<InfraException>(() => Read("--input-file", big)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_signed_job_is_what_the_nodes_parser_reads_and_its_signature_recovers_to_the_key()
    {
        string keyPath = _temp["scheduler.key"];
        using NodeKey key = IdentityFile.Create(keyPath, force: false);
        Assert.True(Address.TryParse("0x000000000000000000000000000000000000dEaD", out Address node));
        JobSubmitCommand.Options o = Read("--input", "naïve \"quoted\" text", "--output-schema", "{ \"type\": \"array\" }", "--job-id", "j-1") with { KeyPath = keyPath };

        JobRequest signed = JobSubmitCommand.Sign(o, node, 1_900_000_000);
        JobRequest parsed = JobJson.Parse(JobSubmitCommand.ToJson(signed));

        Assert.Equal("j-1", parsed.JobId);
        Assert.Equal("naïve \"quoted\" text", parsed.Input);
        Assert.Equal("{\"type\":\"array\"}", parsed.OutputSchema);
        Assert.Equal(node, parsed.Node);
        Assert.Equal(key.Address, parsed.Scheduler);
        Hash32 digest = new Eip712Domain(5).Digest(parsed.ToStruct());
        Assert.True(EthSignature.Verify(digest, parsed.Signature, key.Address));
        Hash32 otherChain = new Eip712Domain(31337).Digest(parsed.ToStruct());
        Assert.False(EthSignature.Verify(otherChain, parsed.Signature, key.Address));
    }

    [Theory]
    [InlineData("{\"job_id\":\"j\",\"state\":\"preparing\",\"progress\":{\"phase\":\"fetch\",\"bytes\":1500000,\"total_bytes\":3000000,\"blocks\":2,\"bytes_per_second\":750000}}", true, "preparing", "fetch 1.5 MB of 3.0 MB, 2 blocks, 0.8 MB/s")]
    [InlineData("{\"error\":\"untrusted_signer\",\"message\":\"m\",\"rejection\":{\"a\":[1,{}]}}", true, null, null)]
    [InlineData("{\"state\":\"running\",\"progress\":\"odd\",\"x\":{\"state\":\"nested\"}}", true, "running", null)]
    [InlineData("{\"state\":\"running\"", false, null, null)]
    [InlineData("{\"state\":\"running\"} trailing", false, null, null)]
    [InlineData("<html>502</html>", false, null, null)]
    [InlineData("", false, null, null)]
    public void Node_answers_are_read_leniently_but_never_half(string body, bool isJson, string? state, string? progress)
    {
        NodeView view = NodeView.Parse(Encoding.UTF8.GetBytes(body));
        Assert.Equal(isJson, view.IsJson);
        Assert.Equal(state, view.State);
        Assert.Equal(progress, view.Progress is { } p ? JobSubmitCommand.DescribeProgress(p) : null);
    }

    [Fact]
    public void Every_prefix_of_a_job_answer_is_read_without_throwing()
    {
        byte[] body = Encoding.UTF8.GetBytes("{\"job_id\":\"j\",\"state\":\"preparing\",\"progress\":{\"phase\":\"fetch\",\"bytes\":15,\"blocks\":2,\"bytes_per_second\":7.5},\"message\":\"é\"}");
        for (int i = 0; i < body.Length; i++)
            Assert.False(NodeView.Parse(body.AsSpan(0, i)).IsJson);
        Assert.Equal("é", NodeView.Parse(body).Message);
    }

    [Fact]
    public void An_error_answer_is_described_on_one_line_with_its_status_and_code()
    {
        var answer = new NodeApi.Answer(429, "{\"error\":\"queue_full\",\"message\":\"the queue holds 64 jobs; retry later\"}"u8.ToArray());
        Assert.Equal("429 queue_full: the queue holds 64 jobs; retry later", answer.Describe());
        Assert.Equal("502 no error code: (the answer is not JSON: is --url a node?)", new NodeApi.Answer(502, "<html>"u8.ToArray()).Describe());
    }

    [Theory]
    [InlineData("jobs", "submit", "--help")]
    [InlineData("help", "jobs", "submit")]
    [InlineData("receipts", "ls", "--help")]
    [InlineData("receipts", "verify", "-h")]
    [InlineData("help", "receipts", "batch")]
    public void The_two_word_commands_have_help_through_the_real_binary(string a, string b, string c)
    {
        InfraProcess.Result result = InfraProcess.Run(_temp.Path, null, a, b, c);
        Assert.Equal(0, result.ExitCode);
        string name = a == "help" ? $"{b} {c}" : $"{a} {b}";
        Assert.Contains($"Usage: infra {name}", result.StdOut, StringComparison.Ordinal);
    }

    [Fact]
    public void Bare_receipts_and_an_unknown_submit_option_are_usage_errors_through_the_real_binary()
    {
        InfraProcess.Result bare = InfraProcess.Run(_temp.Path, null, "receipts");
        Assert.Equal(2, bare.ExitCode);
        Assert.Contains("infra receipts: name what to do: ls, verify FILE|- or batch", bare.StdErr, StringComparison.Ordinal);

        InfraProcess.Result unknown = InfraProcess.Run(_temp.Path, null, "jobs", "submit", "--frob");
        Assert.Equal(2, unknown.ExitCode);
        Assert.Equal("infra jobs submit: unknown option '--frob'; see `infra jobs submit --help`\n", unknown.StdErr);

        string receipt = _temp.Write("r.json", "{\"job_id\":\"j\",\"state\":\"running\"}");
        InfraProcess.Result verify = InfraProcess.Run(_temp.Path, null, "receipts", "verify", receipt);
        Assert.Equal(1, verify.ExitCode);
        Assert.Contains("is running and has no receipt yet", verify.StdErr, StringComparison.Ordinal);
    }
}
