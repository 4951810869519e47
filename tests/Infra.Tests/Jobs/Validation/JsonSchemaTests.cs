using System.Diagnostics;
using System.Text;
using InfraMind.Node.Jobs.Validation;
using Xunit.Abstractions;

namespace InfraMind.Node.Tests.Jobs.Validation;

public class JsonSchemaTests(ITestOutputHelper log)
{
    private const string Person =
        """{"type":"object","required":["name","age"],"properties":{"name":{"type":"string","minLength":1},"age":{"type":"integer","minimum":0},"tags":{"type":"array","items":{"type":"string"},"maxItems":2}},"additionalProperties":false}""";

    private static ValidationResult Check(string schema, string value) => SchemaSpec.Parse(schema).Validate(Encoding.UTF8.GetBytes(value));

    [Fact]
    public void Object_with_required_and_properties()
    {
        Assert.Equal(SchemaKind.JsonSchema, SchemaSpec.Parse(Person).Kind);
        Assert.True(Check(Person, """{"name":"ada","age":36,"tags":["x"]}""").IsValid);

        ValidationResult missing = Check(Person, """{"name":"ada"}""");
        Assert.Equal(ValidationReason.SchemaViolation, missing.Reason);
        Assert.Contains("required", missing.Message, StringComparison.Ordinal);

        ValidationResult wrongType = Check(Person, """{"name":"ada","age":"36"}""");
        Assert.Equal(ValidationReason.SchemaViolation, wrongType.Reason);
        Assert.Contains("/age", wrongType.Message, StringComparison.Ordinal);

        ValidationResult tooMany = Check(Person, """{"name":"ada","age":1,"tags":["a","b","c"]}""");
        Assert.Contains("/tags", tooMany.Message, StringComparison.Ordinal);

        Assert.Equal(ValidationReason.SchemaViolation, Check(Person, """{"name":"ada","age":1,"extra":1}""").Reason);
        Assert.Equal(ValidationReason.SchemaViolation, Check(Person, """{"name":"","age":1}""").Reason);
        Assert.Equal(ValidationReason.SchemaViolation, Check(Person, "[]").Reason);
    }

    [Fact]
    public void Malformed_values_are_reported_before_the_schema_runs()
    {
        Assert.Equal(ValidationReason.Malformed, Check(Person, """{"name":"ada","age":""").Reason);
        Assert.Equal(ValidationReason.NotFinite, Check(Person, """{"name":"ada","age":NaN}""").Reason);
        Assert.Equal(ValidationReason.TooLarge, Check("""{"type":"array"}""", new string('[', 65) + new string(']', 65)).Reason);
        ValidationResult duplicate = Check(Person, """{"name":"ada","age":1,"age":2}""");
        Assert.Equal(ValidationReason.Malformed, duplicate.Reason);
        Assert.Contains("once", duplicate.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Enum_const_and_pattern()
    {
        const string schema = """{"type":"object","properties":{"color":{"enum":["red","green"]},"v":{"const":2},"id":{"type":"string","pattern":"^[a-z]{3}-[0-9]+$"}}}""";
        Assert.True(Check(schema, """{"color":"red","v":2,"id":"abc-12"}""").IsValid);
        Assert.Equal(ValidationReason.SchemaViolation, Check(schema, """{"color":"blue"}""").Reason);
        Assert.Equal(ValidationReason.SchemaViolation, Check(schema, """{"v":3}""").Reason);
        ValidationResult bad = Check(schema, """{"id":"ABC-12"}""");
        Assert.Equal(ValidationReason.SchemaViolation, bad.Reason);
        Assert.Contains("/id", bad.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Local_refs_resolve_and_apply()
    {
        const string schema = """{"definitions":{"pos":{"type":"integer","minimum":1},"a/b":{"type":"string"}},"type":"object","properties":{"n":{"$ref":"#/definitions/pos"},"s":{"$ref":"#/definitions/a~1b"},"all":{"type":"array","items":{"$ref":"#"}}}}""";
        Assert.True(Check(schema, """{"n":3,"s":"x","all":[{"n":1}]}""").IsValid);
        Assert.Equal(ValidationReason.SchemaViolation, Check(schema, """{"n":0}""").Reason);
        Assert.Equal(ValidationReason.SchemaViolation, Check(schema, """{"s":1}""").Reason);
        Assert.Equal(ValidationReason.SchemaViolation, Check(schema, """{"all":[{"n":-1}]}""").Reason);
    }

    [Fact]
    public void AnyOf_oneOf_allOf_not()
    {
        const string schema = """{"allOf":[{"anyOf":[{"type":"string"},{"type":"number"}]},{"not":{"const":"no"}},{"oneOf":[{"type":"integer"},{"type":"string"},{"type":"number","minimum":100}]}]}""";
        Assert.True(Check(schema, "\"yes\"").IsValid);
        Assert.True(Check(schema, "5").IsValid);
        Assert.Equal(ValidationReason.SchemaViolation, Check(schema, "\"no\"").Reason);
        Assert.Equal(ValidationReason.SchemaViolation, Check(schema, "150").Reason); // integer and >= 100: two oneOf branches
        Assert.Equal(ValidationReason.SchemaViolation, Check(schema, "true").Reason);
    }

    [Theory]
    [InlineData("""{"$ref":"http://example.com/schema.json"}""")]
    [InlineData("""{"properties":{"a":{"$ref":"other.json#/definitions/x"}}}""")]
    [InlineData("""{"items":[{"$ref":"https://json-schema.org/draft-07/schema#"}]}""")]
    [InlineData("""{"definitions":{"d":{"anyOf":[{"$ref":"file:///etc/passwd"}]}}}""")]
    public void Remote_refs_are_refused(string schema)
    {
        SchemaException error = Assert.Throws<SchemaException>(() => SchemaSpec.Parse(schema));
        Assert.Equal(SchemaError.UnresolvableRef, error.Error);
        Assert.Contains("leaves the document", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Ref_shaped_data_is_not_a_ref()
    {
        // "$ref" as a property name, or inside enum/const data, is data, not a keyword.
        const string schema = """{"properties":{"$ref":{"type":"string"}},"enum":[{"$ref":"http://x"}],"default":{"$ref":"http://y"}}""";
        Assert.True(Check(schema, """{"$ref":"http://x"}""").IsValid);
    }

    [Theory]
    [InlineData("""{"$ref":"#"}""")]
    [InlineData("""{"properties":{"a":{"$ref":"#/properties/a"}}}""")]
    [InlineData("""{"definitions":{"a":{"$ref":"#/definitions/b"},"b":{"$ref":"#/definitions/a"}},"$ref":"#/definitions/a"}""")]
    [InlineData("""{"allOf":[{"$ref":"#"}]}""")]
    [InlineData("""{"not":{"not":{"not":{"not":{"not":{"not":{"not":{"not":{"not":{}}}}}}}}}}""")]
    [InlineData("""{"definitions":{"a":{"not":{"anyOf":[{"$ref":"#/definitions/a"}]}}},"items":{"$ref":"#/definitions/a"}}""")]
    public void Refs_that_loop_without_descending_are_refused(string schema)
    {
        // Without this check {"$ref":"#"} would recurse on one value until the stack overflowed (measured with the earlier library).
        SchemaException error = Assert.Throws<SchemaException>(() => SchemaSpec.Parse(schema));
        Assert.Equal(SchemaError.CircularRef, error.Error);
    }

    [Fact]
    public void Long_in_place_chains_are_refused_and_recursion_through_the_value_is_bounded()
    {
        string Chain(int n) => "{\"definitions\":{" + string.Join(',', Enumerable.Range(0, n).Select(i => $"\"d{i}\":{{\"$ref\":\"#/definitions/d{i + 1}\"}}"))
            + $",\"d{n}\":{{\"type\":[\"array\",\"integer\"],\"items\":{{\"$ref\":\"#\"}}}}}},\"$ref\":\"#/definitions/d0\"}}";
        Assert.Equal(SchemaError.CircularRef, Assert.Throws<SchemaException>(() => SchemaSpec.Parse(Chain(7))).Error);

        // The worst accepted case: an 8-link chain re-entered at each of 64 levels of value, on a 1 MiB stack.
        SchemaSpec deepest = SchemaSpec.Parse(Chain(6));
        byte[] value = Encoding.UTF8.GetBytes(new string('[', 63) + "1" + new string(']', 63));
        ValidationResult result = default;
        var thread = new Thread(() => result = deepest.Validate(value), maxStackSize: 1 << 20);
        thread.Start();
        thread.Join();
        Assert.True(result.IsValid, result.Message);
    }

    [Fact]
    public void Nested_id_is_refused_because_it_moves_ref_resolution()
    {
        // Inside the nested $id, "#" is that subschema itself: a loop the root-relative checks would not see.
        SchemaException error = Assert.Throws<SchemaException>(() => SchemaSpec.Parse("""{"definitions":{"x":{"$id":"http://a/b","$ref":"#"}},"$ref":"#/definitions/x"}"""));
        Assert.Equal(SchemaError.UnresolvableRef, error.Error);
        Assert.True(Check("""{"$id":"http://example.com/root.json","properties":{"$id":{"type":"string"}}}""", """{"$id":"x"}""").IsValid);
    }

    [Fact]
    public void Anchor_refs_are_refused()
    {
        SchemaException error = Assert.Throws<SchemaException>(() => SchemaSpec.Parse("""{"definitions":{"a":{"type":"integer"}},"$ref":"#a"}"""));
        Assert.Equal(SchemaError.UnresolvableRef, error.Error);
    }

    [Fact]
    public void Dangling_local_ref_is_refused()
    {
        SchemaException error = Assert.Throws<SchemaException>(() => SchemaSpec.Parse("""{"$ref":"#/definitions/missing"}"""));
        Assert.Equal(SchemaError.UnresolvableRef, error.Error);
        Assert.Contains("points at nothing", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{\"type\": \"object\"", SchemaError.Malformed)]
    [InlineData("{\"type\": object}", SchemaError.Malformed)]
    [InlineData("{\"type\": \"strng\"}", SchemaError.Malformed)]
    [InlineData("{\"minLength\": \"x\"}", SchemaError.Malformed)]
    [InlineData("{\"required\": \"name\"}", SchemaError.Malformed)]
    [InlineData("{\"pattern\": \"([a-z\"}", SchemaError.Malformed)]
    [InlineData("{\"patternProperties\": {\"(\": {}}}", SchemaError.Malformed)]
    [InlineData("{\"$schema\": \"https://json-schema.org/draft/2020-12/schema\"}", SchemaError.UnsupportedDraft)]
    [InlineData("{\"$schema\": 7}", SchemaError.UnsupportedDraft)]
    [InlineData("{} {}", SchemaError.Malformed)]
    [InlineData("{\"type\": \"string\", \"type\": \"number\"}", SchemaError.Malformed)]
    public void Malformed_schemas_are_clear_errors(string schema, SchemaError error)
    {
        SchemaException e = Assert.Throws<SchemaException>(() => SchemaSpec.Parse(schema));
        Assert.Equal(error, e.Error);
        Assert.False(string.IsNullOrWhiteSpace(e.Message));
        Assert.False(SchemaSpec.TryParse(schema, out _, out SchemaException? again));
        Assert.Equal(error, again!.Error);
    }

    [Fact]
    public void Draft07_schema_uri_is_accepted()
    {
        Assert.True(Check("""{"$schema":"http://json-schema.org/draft-07/schema#","type":"integer"}""", "3").IsValid);
        Assert.False(Check("""{"$schema":"http://json-schema.org/draft-07/schema","type":"integer"}""", "3.5").IsValid);
    }

    [Fact]
    public void Oversized_and_deep_schemas_are_refused()
    {
        string big = "{\"description\":\"" + new string('x', 64 * 1024) + "\"}";
        Assert.Equal(SchemaError.TooLarge, Assert.Throws<SchemaException>(() => SchemaSpec.Parse(big)).Error);

        string Nest(int levels) => string.Concat(Enumerable.Repeat("{\"items\":", levels - 1)) + "{}" + new string('}', levels - 1);
        Assert.Equal(SchemaKind.JsonSchema, SchemaSpec.Parse(Nest(32)).Kind);
        Assert.Equal(SchemaError.TooLarge, Assert.Throws<SchemaException>(() => SchemaSpec.Parse(Nest(33))).Error);
        Assert.Equal(SchemaError.TooLarge, Assert.Throws<SchemaException>(() => SchemaSpec.Parse(Nest(5000))).Error);
    }

    [Fact]
    public void Catastrophic_pattern_is_stopped_by_the_timeout()
    {
        const string schema = """{"type":"string","pattern":"^(a+)+$"}""";
        Assert.True(Check(schema, "\"aaaa\"").IsValid);
        var clock = Stopwatch.StartNew();
        ValidationResult result = Check(schema, "\"" + new string('a', 40) + "!\"");
        Assert.Equal(ValidationReason.SchemaViolation, result.Reason);
        Assert.Contains("ms", result.Message, StringComparison.Ordinal);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"took {clock.Elapsed}");
    }

    [Fact]
    public void UniqueItems_is_checked_and_bounded()
    {
        const string schema = """{"type":"array","uniqueItems":true}""";
        Assert.True(Check(schema, "[1, 2, 3]").IsValid);
        Assert.Equal(ValidationReason.SchemaViolation, Check(schema, "[1, 2, 1]").Reason);
        string Numbers(int n) => "[" + string.Join(',', Enumerable.Range(0, n)) + "]";
        Assert.True(Check(schema, Numbers(4096)).IsValid);
        ValidationResult tooMany = Check(schema, Numbers(4096 + 1));
        Assert.Equal(ValidationReason.TooLong, tooMany.Reason);
        Assert.True(Check("""{"type":"array"}""", Numbers(100_000)).IsValid); // no uniqueItems: no bound
    }

    [Fact]
    public void Concurrent_evaluation_of_one_schema_agrees_with_serial()
    {
        const string schema = """{"type":"object","if":{"properties":{"k":{"const":"L"}}},"then":{"required":["v"]},"else":{"properties":{"v":{"$ref":"#/definitions/n"}}},"definitions":{"n":{"type":"number"}}}""";
        string[] values = ["""{"k":"L","v":1}""", """{"k":"L"}""", """{"k":"M","v":"x"}""", """{"k":"M","v":2}"""];
        bool[] expected = values.Select(v => Check(schema, v).IsValid).ToArray();
        Assert.Equal([true, false, false, true], expected);
        Parallel.For(0, 2000, i => Assert.Equal(expected[i % 4], Check(schema, values[i % 4]).IsValid));
    }

    [Fact]
    public void A_one_megabyte_value_validates()
    {
        const string schema = """{"type":"object","properties":{"chunks":{"type":"array","items":{"type":"string","maxLength":1024}}}}""";
        string chunk = "\"" + new string('z', 1000) + "\"";
        string value = "{\"chunks\":[" + string.Join(',', Enumerable.Repeat(chunk, 1024)) + "]}";
        Assert.True(value.Length > 1_000_000);
        Assert.True(Check(schema, value).IsValid);
        var clock = Stopwatch.StartNew();
        Assert.True(Check(schema, value).IsValid);
        log.WriteLine($"1 MB value (1024 strings) against a JSON Schema: {clock.Elapsed.TotalMilliseconds:F1} ms");
        clock.Restart();
        for (int i = 0; i < 100; i++)
            Check(Person, """{"name":"ada","age":36,"tags":["x"]}""");
        log.WriteLine($"small object against a JSON Schema: {clock.Elapsed.TotalMicroseconds / 100:F1} us per call");
        Assert.Equal(ValidationReason.SchemaViolation, Check(schema, value.Replace("\"]}", "zzzzzzzzzzzzzzzzzzzzzzzzzzz\"]}", StringComparison.Ordinal)).Reason);
    }
}
