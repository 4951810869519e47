using Xunit.Abstractions;
using System.Globalization;
using System.Text;
using InfraMind.Node.Jobs.Validation;

namespace InfraMind.Node.Tests.Jobs.Validation;

public class ShortTypeTests(ITestOutputHelper log)
{
    private static ValidationResult Check(string schema, string value) => SchemaSpec.Parse(schema).Validate(Encoding.UTF8.GetBytes(value));

    private static ValidationResult Check(string schema, byte[] value) => SchemaSpec.Parse(schema).Validate(value);

    [Theory]
    [InlineData("")]
    [InlineData("hello")]
    [InlineData("naïve ☃ 𝄞")]
    [InlineData("{\"not\": \"parsed\"}")]
    [InlineData("\uFEFFtext after a BOM is still text")]
    public void Text_accepts_any_utf8(string value) => Assert.True(Check("text", value).IsValid);

    [Fact]
    public void Text_refuses_nul_invalid_utf8_and_oversize()
    {
        Assert.Equal(ValidationReason.Malformed, Check("text", "a\0b").Reason);
        Assert.Equal(ValidationReason.Malformed, Check("text", [0x61, 0xC3]).Reason);               // truncated sequence
        Assert.Equal(ValidationReason.Malformed, Check("text", [0xED, 0xA0, 0x80]).Reason);         // encoded surrogate
        Assert.Equal(ValidationReason.Malformed, Check("text", [0xC0, 0xAF]).Reason);               // overlong '/'
        var small = SchemaSpec.Compile("text", new ValidationLimits(MaxBytes: 8));
        Assert.True(small.Validate("12345678"u8).IsValid);
        Assert.Equal(ValidationReason.TooLarge, small.Validate("123456789"u8).Reason);
    }

    [Fact]
    public void Text_input_string_with_lone_surrogate_is_malformed()
    {
        ValidationResult result = SchemaSpec.Parse("text").Validate("bad \uD800 surrogate");
        Assert.Equal(ValidationReason.Malformed, result.Reason);
        Assert.True(SchemaSpec.Parse("text").Validate("fine 𝄞").IsValid);
    }

    [Theory]
    [InlineData("null")]
    [InlineData("0")]
    [InlineData("\"s\"")]
    [InlineData(" [1, {\"a\": [true, false]}] \n")]
    [InlineData("{\"a\":\"\\u0000\"}")]
    public void Json_accepts_any_single_value(string value) => Assert.True(Check("json", value).IsValid, Check("json", value).Message);

    [Theory]
    [InlineData("", ValidationReason.Malformed)]
    [InlineData("   ", ValidationReason.Malformed)]
    [InlineData("{\"a\": 1", ValidationReason.Malformed)]
    [InlineData("[1, 2", ValidationReason.Malformed)]
    [InlineData("{\"a\": 1} {\"b\": 2}", ValidationReason.Malformed)]
    [InlineData("{'a': 1}", ValidationReason.Malformed)]
    [InlineData("[1,]", ValidationReason.Malformed)]
    [InlineData("// c\n1", ValidationReason.Malformed)]
    [InlineData("[NaN]", ValidationReason.NotFinite)]
    [InlineData("Infinity", ValidationReason.NotFinite)]
    public void Json_refuses_broken_values(string value, ValidationReason reason) => Assert.Equal(reason, Check("json", value).Reason);

    [Fact]
    public void Json_refuses_bom_invalid_utf8_and_depth_bombs()
    {
        Assert.Equal(ValidationReason.Malformed, Check("json", [0xEF, 0xBB, 0xBF, (byte)'1']).Reason);
        Assert.Equal(ValidationReason.Malformed, Check("json", [(byte)'"', 0xFF, (byte)'"']).Reason);

        Assert.True(Check("json", new string('[', 64) + new string(']', 64)).IsValid);
        ValidationResult deep = Check("json", new string('[', 65) + new string(']', 65));
        Assert.Equal(ValidationReason.TooLarge, deep.Reason);
        Assert.Contains("64", deep.Message, StringComparison.Ordinal);
        // A bomb that never closes is refused on depth before the truncation is even seen.
        Assert.Equal(ValidationReason.TooLarge, Check("json", new string('[', 100_000)).Reason);
        Assert.Equal(ValidationReason.TooLarge, Check("json", string.Concat(Enumerable.Repeat("{\"a\":", 1000))).Reason);
    }

    [Fact]
    public void Json_every_prefix_of_a_value_is_refused_without_throwing()
    {
        const string good = "{\"a\": [1, 2.5e3, \"x\\u00e9\", null, true], \"b\": {\"c\": -0.1}}";
        Assert.True(Check("json", good).IsValid);
        for (int i = 0; i < good.Length; i++)
            Assert.False(Check("json", good[..i]).IsValid, good[..i]);
    }

    [Theory]
    [InlineData("embedding<float>")]
    [InlineData("vector<float>")]
    public void Float_arrays_accept_finite_float32_numbers(string schema)
    {
        Assert.True(Check(schema, "[0.1, -2, 3e10, 1e-50, -3.4e38, 0]").IsValid);
        Assert.True(Check(schema, " [1]\n").IsValid);
        Assert.True(Check(schema, "[0, 0, 0]").IsValid); // all-zero is allowed (documented on FloatArraySchema)
    }

    [Theory]
    [InlineData("[]", ValidationReason.Empty)]
    [InlineData("[ ]", ValidationReason.Empty)]
    [InlineData("{}", ValidationReason.WrongType)]
    [InlineData("1", ValidationReason.WrongType)]
    [InlineData("\"[1,2]\"", ValidationReason.WrongType)]
    [InlineData("null", ValidationReason.WrongType)]
    [InlineData("[1, \"2\"]", ValidationReason.WrongType)]
    [InlineData("[1, [2]]", ValidationReason.WrongType)]
    [InlineData("[[1, 2]]", ValidationReason.WrongType)]
    [InlineData("[1, null]", ValidationReason.WrongType)]
    [InlineData("[true]", ValidationReason.WrongType)]
    [InlineData("[1, NaN]", ValidationReason.NotFinite)]
    [InlineData("[NaN]", ValidationReason.NotFinite)]
    [InlineData("[1, Infinity]", ValidationReason.NotFinite)]
    [InlineData("[-Infinity, 1]", ValidationReason.NotFinite)]
    [InlineData("[1e39]", ValidationReason.NotFinite)]
    [InlineData("[-1e39]", ValidationReason.NotFinite)]
    [InlineData("[1e400]", ValidationReason.NotFinite)]
    [InlineData("[1, 2", ValidationReason.Malformed)]
    [InlineData("[1, 2,", ValidationReason.Malformed)]
    [InlineData("[1,]", ValidationReason.Malformed)]
    [InlineData("[1] [2]", ValidationReason.Malformed)]
    [InlineData("[1] x", ValidationReason.Malformed)]
    [InlineData("[01]", ValidationReason.Malformed)]
    [InlineData("[0x10]", ValidationReason.Malformed)]
    [InlineData("", ValidationReason.Malformed)]
    public void Float_arrays_refuse_bad_values(string value, ValidationReason reason)
    {
        ValidationResult result = Check("embedding<float>", value);
        Assert.Equal(reason, result.Reason);
        Assert.False(string.IsNullOrEmpty(result.Message));
        Assert.Equal(reason, Check("vector<float>", value).Reason);
    }

    [Fact]
    public void Float_arrays_refuse_too_long_oversized_bom_and_nesting_bombs()
    {
        string Vector(int n) => "[" + string.Join(',', Enumerable.Repeat("0.5", n)) + "]";
        Assert.True(Check("vector<float>", Vector(65_536)).IsValid);
        Assert.Equal(ValidationReason.TooLong, Check("vector<float>", Vector(65_537)).Reason);

        var small = SchemaSpec.Compile("vector<float>", new ValidationLimits(MaxBytes: 16));
        Assert.Equal(ValidationReason.TooLarge, small.Validate(Encoding.UTF8.GetBytes(Vector(10))).Reason);

        Assert.Equal(ValidationReason.Malformed, Check("embedding<float>", [0xEF, 0xBB, 0xBF, (byte)'[', (byte)'1', (byte)']']).Reason);
        Assert.Equal(ValidationReason.Malformed, Check("embedding<float>", [(byte)'[', 0xFF, (byte)']']).Reason);
        Assert.Equal(ValidationReason.WrongType, Check("embedding<float>", new string('[', 100_000)).Reason);
    }

    [Fact]
    public void Float_arrays_every_prefix_is_refused()
    {
        const string good = "[1.5, -2e-3, 7]";
        for (int i = 0; i < good.Length; i++)
            Assert.False(Check("embedding<float>", good[..i]).IsValid, good[..i]);
    }

    [Fact]
    public void Validating_a_256_float_embedding_allocates_almost_nothing()
    {
        var random = new Random(7);
        string json = "[" + string.Join(',', Enumerable.Range(0, 256).Select(_ => (random.NextDouble() * 2 - 1).ToString("R", CultureInfo.InvariantCulture))) + "]";
        byte[] bytes = Encoding.UTF8.GetBytes(json);
        SchemaSpec schema = SchemaSpec.Parse("embedding<float>");
        Assert.True(schema.Validate(bytes).IsValid); // warm up

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 100; i++)
            Assert.True(schema.Validate(bytes).IsValid);
        long perCall = (GC.GetAllocatedBytesForCurrentThread() - before) / 100;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        for (int i = 0; i < 1000; i++)
            schema.Validate(bytes);
        log.WriteLine($"256-float embedding ({bytes.Length} bytes): {perCall} bytes allocated, {clock.Elapsed.TotalMicroseconds / 1000:F1} us per call");
        Assert.True(perCall < 256, $"validating a 256-float embedding allocated {perCall} bytes per call");
    }
}
