using System.Text;
using InfraMind.Node.Crypto;
using InfraMind.Node.Jobs.Intake;
using InfraMind.Node.Tests.Support;

namespace InfraMind.Node.Tests.Jobs;

public sealed class JobJsonTests : IDisposable
{
    private readonly SignedJobs _scheduler = new();
    private static readonly Address Node = Address.FromPublicKey(Enumerable.Repeat((byte)4, 65).ToArray());

    [Fact]
    public void A_signed_job_round_trips_through_its_json()
    {
        JobRequest job = _scheduler.Job(Node, input: "héllo \"world\"\n");
        JobRequest parsed = JobJson.Parse(SignedJobs.ToJson(job));
        Assert.Equal(job.JobId, parsed.JobId);
        Assert.Equal(job.Input, parsed.Input);
        Assert.Equal(job.Signature, parsed.Signature);
        Assert.Equal(job.ToStruct(), parsed.ToStruct());
    }

    [Fact]
    public void A_json_schema_is_kept_as_its_compact_text()
    {
        string pretty = "{ \"type\" : \"object\",\n  \"required\": [ \"a b\" ] }";
        string json = SignedJobs.ToJsonText(_scheduler.Job(Node)).Replace("\"input\":\"text\"", "\"input\":" + pretty, StringComparison.Ordinal);
        JobRequest parsed = JobJson.Parse(Encoding.UTF8.GetBytes(json));
        Assert.Equal("{\"type\":\"object\",\"required\":[\"a b\"]}", parsed.InputSchema);
    }

    public static TheoryData<string, string> Broken() => new()
    {
        { "", "empty" },
        { "[]", "JSON object" },
        { "{", "not valid JSON" },
        { "{\"job_id\":\"a\"", "not valid JSON" },
        { "{} {}", "not valid JSON" },
        { "{\"job_id\":1}", "job_id must be a string" },
        { "{\"job_id\":\"\"}", "job_id" },
        { "{\"job_id\":\"a/../b\"}", "letters, digits" },
        { "{\"job_id\":\"a\",\"job_id\":\"b\"}", "twice" },
        { "{\"nope\":1}", "unknown field" },
        { "{\"deadline\":-1}", "deadline" },
        { "{\"deadline\":1.5}", "deadline" },
        { "{\"deadline\":\"1700000000\"}", "deadline" },
        { "{\"deadline\":18446744073709551616}", "deadline" },
        { "{\"node\":\"0x12\"}", "node must be" },
        { "{\"node\":\"0xZZ00000000000000000000000000000000000000\"}", "not a valid address" },
        { "{\"signature\":\"0x00\"}", "signature must be" },
        { "{\"expected_schema\":\"text\"}", "expected_schema must be an object" },
        { "{\"expected_schema\":{\"input\":\"text\"}}", "expected_schema.output" },
        { "{\"expected_schema\":{\"input\":5,\"output\":\"text\"}}", "short type" },
        { "{\"expected_schema\":{\"input\":\"text\",\"output\":\"text\",\"x\":1}}", "only input and output" },
        { "{\"input\":\"\\ud800\"}", "not valid text" },
        { "{\"model_hash\":\"a\\u0000b\"}", "control characters" },
        { "{\"job_id\":\"a\"} // c", "not valid JSON" },
        { "{\"job_id\":\"a\"}", "has no model_hash" },
    };

    [Theory]
    [MemberData(nameof(Broken))]
    public void Malformed_jobs_are_refused_with_a_message_naming_the_problem(string json, string expected)
    {
        JobRejectedException e = Assert.Throws<JobRejectedException>(() => JobJson.Parse(Encoding.UTF8.GetBytes(json)));
        Assert.Equal(RejectReason.Malformed, e.Reason);
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Invalid_utf8_and_nesting_bombs_are_refused()
    {
        byte[] badUtf8 = [.. "{\"input\":\""u8, 0xC3, 0x28, .. "\"}"u8];
        Assert.Equal(RejectReason.Malformed, Assert.Throws<JobRejectedException>(() => JobJson.Parse(badUtf8)).Reason);
        string bomb = "{\"expected_schema\":{\"input\":" + new string('[', 5000) + new string(']', 5000) + "}}";
        Assert.Equal(RejectReason.Malformed, Assert.Throws<JobRejectedException>(() => JobJson.Parse(Encoding.UTF8.GetBytes(bomb))).Reason);
    }

    [Fact]
    public void An_oversized_job_is_too_large_before_it_is_parsed()
    {
        byte[] big = new byte[JobJson.DefaultMaxBytes + 1];
        Assert.Equal(RejectReason.TooLarge, Assert.Throws<JobRejectedException>(() => JobJson.Parse(big)).Reason);
    }

    [Fact]
    public void Every_truncation_of_a_valid_job_is_refused_cleanly()
    {
        byte[] json = SignedJobs.ToJson(_scheduler.Job(Node));
        for (int length = 0; length < json.Length; length++)
            Assert.Throws<JobRejectedException>(() => JobJson.Parse(json.AsSpan(0, length)));
    }

    public void Dispose() => _scheduler.Dispose();
}
