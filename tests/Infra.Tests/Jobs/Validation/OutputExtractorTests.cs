using System.Text;
using InfraMind.Node.Jobs.Validation;
using InfraMind.Node.Models.Bundles;

namespace InfraMind.Node.Tests.Jobs.Validation;

public class OutputExtractorTests
{
    private static ValidationResult Rest(string body, string schema, out ExtractedOutput output) =>
        OutputExtractor.ExtractAndValidate(ModelProtocol.Rest, Encoding.UTF8.GetBytes(body), SchemaSpec.Parse(schema), out output);

    private static ValidationResult Stdio(byte[] stdout, string schema, out ExtractedOutput output) =>
        OutputExtractor.ExtractAndValidate(ModelProtocol.Stdio, stdout, SchemaSpec.Parse(schema), out output);

    private static string Utf8(ReadOnlyMemory<byte> bytes) => Encoding.UTF8.GetString(bytes.Span);

    [Fact]
    public void Rest_output_member_value_is_validated_and_hashed_as_returned()
    {
        Assert.True(Rest("{\"output\": [1, 2.5]}", "embedding<float>", out ExtractedOutput output).IsValid);
        Assert.Equal("[1, 2.5]", Utf8(output.Value));
        Assert.Equal("[1, 2.5]", Utf8(output.HashedBytes));

        Assert.True(Rest("{\"id\": 1, \"result\": {\"a\": 1}}", "json", out output).IsValid);
        Assert.Equal("{\"a\": 1}", Utf8(output.HashedBytes));
        // "output" wins over "result", in either order.
        Assert.True(Rest("{\"result\": 5, \"output\": [3]}", "vector<float>", out output).IsValid);
        Assert.Equal("[3]", Utf8(output.Value));
    }

    [Fact]
    public void Rest_text_is_the_unescaped_string_but_the_hash_keeps_the_json()
    {
        Assert.True(Rest("{\"output\":\"plain\"}", "text", out ExtractedOutput output).IsValid);
        Assert.Equal("plain", Utf8(output.Value));
        Assert.Equal("\"plain\"", Utf8(output.HashedBytes));

        Assert.True(Rest("{\"output\":\"caf\\u00e9 \\\"q\\\"\\n\"}", "text", out output).IsValid);
        Assert.Equal("café \"q\"\n", Utf8(output.Value));
        Assert.Equal("\"caf\\u00e9 \\\"q\\\"\\n\"", Utf8(output.HashedBytes));
    }

    [Theory]
    [InlineData("{\"output\": 5}", "text", ValidationReason.WrongType)]
    [InlineData("{\"output\": [\"a\"]}", "text", ValidationReason.WrongType)]
    [InlineData("{\"output\": \"nul \\u0000 here\"}", "text", ValidationReason.Malformed)]
    [InlineData("{\"output\": \"lone \\ud800\"}", "text", ValidationReason.Malformed)]
    [InlineData("{\"answer\": 1}", "json", ValidationReason.Malformed)]
    [InlineData("[1, 2]", "vector<float>", ValidationReason.Malformed)]
    [InlineData("\"output\"", "json", ValidationReason.Malformed)]
    [InlineData("{\"output\": [1, 2]", "vector<float>", ValidationReason.Malformed)]
    [InlineData("{\"output\": [1, 2]} trailing", "vector<float>", ValidationReason.Malformed)]
    [InlineData("", "json", ValidationReason.Malformed)]
    [InlineData("{\"output\": []}", "embedding<float>", ValidationReason.Empty)]
    [InlineData("{\"output\": [1e39]}", "embedding<float>", ValidationReason.NotFinite)]
    [InlineData("{\"output\": {\"x\": 1}}", "{\"type\":\"object\",\"required\":[\"y\"]}", ValidationReason.SchemaViolation)]
    public void Rest_bad_answers_are_refused(string body, string schema, ValidationReason reason)
    {
        ValidationResult result = Rest(body, schema, out ExtractedOutput output);
        Assert.Equal(reason, result.Reason);
        Assert.False(output.HashedBytes.IsEmpty && body.Length > 0, "a refused answer still has bytes to hash");
    }

    [Fact]
    public void Rest_answer_without_output_hashes_the_whole_body()
    {
        Rest("{\"answer\": 1}", "json", out ExtractedOutput output);
        Assert.Equal("{\"answer\": 1}", Utf8(output.HashedBytes));
    }

    [Fact]
    public void Rest_every_prefix_of_an_answer_is_refused()
    {
        const string body = "{\"output\": [0.25, -1, 3e2]}";
        for (int i = 0; i < body.Length; i++)
            Assert.False(Rest(body[..i], "embedding<float>", out _).IsValid, body[..i]);
    }

    [Fact]
    public void Stdio_text_trims_one_newline_and_hashes_raw_stdout()
    {
        Assert.True(Stdio("hello\n"u8.ToArray(), "text", out ExtractedOutput output).IsValid);
        Assert.Equal("hello", Utf8(output.Value));
        Assert.Equal("hello\n", Utf8(output.HashedBytes));

        Stdio("two\r\n"u8.ToArray(), "text", out output);
        Assert.Equal("two", Utf8(output.Value));
        Stdio("keep\n\n"u8.ToArray(), "text", out output);
        Assert.Equal("keep\n", Utf8(output.Value));

        Assert.Equal(ValidationReason.Malformed, Stdio([0x66, 0xFF, 0x0A], "text", out _).Reason);
    }

    [Fact]
    public void Stdio_json_kinds_parse_stdout()
    {
        Assert.True(Stdio("[0.5, 1]\n"u8.ToArray(), "embedding<float>", out ExtractedOutput output).IsValid);
        Assert.Equal("[0.5, 1]\n", Utf8(output.HashedBytes));
        Assert.Equal(ValidationReason.NotFinite, Stdio("[0.5, NaN]\n"u8.ToArray(), "embedding<float>", out _).Reason);
        Assert.Equal(ValidationReason.NotFinite, Stdio("[Infinity]"u8.ToArray(), "vector<float>", out _).Reason);
        Assert.Equal(ValidationReason.Malformed, Stdio("loading model...\n[1]\n"u8.ToArray(), "vector<float>", out _).Reason);
        Assert.Equal(ValidationReason.Malformed, Stdio([], "json", out _).Reason);
        Assert.True(Stdio("{\"a\":1}"u8.ToArray(), "{\"required\":[\"a\"]}", out _).IsValid);
    }

    [Fact]
    public void A_one_megabyte_output_validates()
    {
        string text = new('t', 1 << 20);
        Assert.True(Rest("{\"output\":\"" + text + "\"}", "text", out ExtractedOutput output).IsValid);
        Assert.Equal(1 << 20, output.Value.Length);
        Assert.True(Stdio(Encoding.UTF8.GetBytes(text + "\n"), "text", out _).IsValid);

        string vector = "[" + string.Join(',', Enumerable.Repeat("0.123456789", 65_536)) + "]";
        Assert.True(vector.Length > 700_000);
        Assert.True(Stdio(Encoding.UTF8.GetBytes(vector), "vector<float>", out _).IsValid);
        Assert.True(Rest("{\"output\":" + string.Concat(Enumerable.Repeat("[", 10)) + "\"" + text + "\"" + new string(']', 10) + "}", "json", out _).IsValid);
    }
}
