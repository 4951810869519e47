using System.Diagnostics;
using System.Text;
using InfraMind.Node.Jobs.Validation;

namespace InfraMind.Node.Tests.Jobs.Validation;

/// <summary>Every supported draft-07 keyword with a passing and a failing value, then numbers, Unicode and hostile input.</summary>
public class Draft7KeywordTests
{
    private static ValidationResult Check(string schema, string value) =>
        SchemaSpec.Compile(schema, ValidationLimits.Default).Validate(Encoding.UTF8.GetBytes(value));

    private static void Valid(string schema, string value)
    {
        ValidationResult result = Check(schema, value);
        Assert.True(result.IsValid, $"{value} against {schema}: {result}");
    }

    /// <summary>Fails as a schema violation whose message names the keyword and, when given, the location.</summary>
    private static void Invalid(string schema, string value, string keyword, string? at = null)
    {
        ValidationResult result = Check(schema, value);
        Assert.Equal(ValidationReason.SchemaViolation, result.Reason);
        Assert.Contains($"({keyword}:", result.Message, StringComparison.Ordinal);
        if (at is not null)
            Assert.Contains($"the value at {at} ", result.Message, StringComparison.Ordinal);
    }

    private static SchemaError Refused(string schema) =>
        Assert.Throws<SchemaException>(() => SchemaSpec.Compile(schema, ValidationLimits.Default)).Error;

    [Fact]
    public void Type_single_and_list()
    {
        Valid("""{"type":"string"}""", "\"x\"");
        Invalid("""{"type":"string"}""", "1", "type", "/");
        Valid("""{"type":["null","boolean"]}""", "null");
        Valid("""{"type":["null","boolean"]}""", "false");
        Invalid("""{"type":["null","boolean"]}""", "0", "type");
        Valid("""{"type":"object"}""", "{}");
        Invalid("""{"type":"object"}""", "[]", "type");
        Valid("""{"type":"array"}""", "[]");
        Valid("""{"type":"number"}""", "1.5");
        Invalid("""{"type":"number"}""", "\"1\"", "type");
        Assert.Contains("expected string, found number", Check("""{"type":"string"}""", "1").Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("1", true)]
    [InlineData("1.0", true)]
    [InlineData("-0.0", true)]
    [InlineData("1e2", true)]
    [InlineData("1.5e1", true)]
    [InlineData("1E+400", true)]
    [InlineData("12300e-2", true)]
    [InlineData("1.5", false)]
    [InlineData("1e-1", false)]
    [InlineData("12301e-2", false)]
    [InlineData("1.0000000000000000000000000000001", false)]
    public void Integer_is_a_number_with_zero_fraction(string number, bool whole)
    {
        Assert.Equal(whole, Check("""{"type":"integer"}""", number).IsValid);
        Assert.True(Check("""{"type":"number"}""", number).IsValid);
    }

    [Fact]
    public void Enum_and_const_compare_numbers_by_value_and_objects_in_any_order()
    {
        const string enumSchema = """{"enum":[1, "a", null, {"x":[1,2]}]}""";
        Valid(enumSchema, "1.0");
        Valid(enumSchema, "1e0");
        Valid(enumSchema, "0.1e1");
        Valid(enumSchema, "null");
        Valid(enumSchema, """{"x":[1.0,2]}""");
        Invalid(enumSchema, "\"1\"", "enum");
        Invalid(enumSchema, "true", "enum");
        Invalid(enumSchema, """{"x":[2,1]}""", "enum"); // arrays are ordered
        Invalid(enumSchema, """{"x":[1,2],"y":1}""", "enum");

        Valid("""{"const":0}""", "-0");
        Valid("""{"const":0}""", "0.0");
        Invalid("""{"const":0}""", "false", "const");
        Valid("""{"const":{"a":1,"b":"s"}}""", """{"b":"s","a":1.00}""");
        Invalid("""{"const":{"a":1,"b":"s"}}""", """{"b":"s"}""", "const");
        Valid("""{"const":"\u00e9"}""", "\"é\""); // escapes compare by their value
        Invalid("""{"const":[1]}""", "1", "const");
        Invalid("""{"enum":[]}""", "1", "enum");
    }

    [Fact]
    public void Properties_required_and_additional_properties()
    {
        const string schema = """{"properties":{"a":{"type":"integer"}},"required":["a"],"additionalProperties":{"type":"string"}}""";
        Valid(schema, """{"a":1,"other":"x"}""");
        Invalid(schema, """{"a":"1"}""", "type", "/a");
        Invalid(schema, """{"b":"x"}""", "required");
        Invalid(schema, """{"a":1,"other":2}""", "type", "/other");
        Valid(schema, "[1]"); // object keywords pass other types

        Invalid("""{"properties":{"a":{}},"additionalProperties":false}""", """{"a":1,"b":2}""", "additionalProperties", "/b");
        Valid("""{"properties":{"a/b~c":{"type":"string"}}}""", """{"a/b~c":"x"}""");
        Invalid("""{"properties":{"a/b~c":{"type":"string"}}}""", """{"a/b~c":1}""", "type", "/a~1b~0c");

        // Many required names are checked against one set of the value's names.
        string names = string.Join(',', Enumerable.Range(0, 20).Select(i => $"\"p{i}\""));
        string full = "{" + string.Join(',', Enumerable.Range(0, 20).Select(i => $"\"p{i}\":{i}")) + "}";
        Valid($"{{\"required\":[{names}]}}", full);
        Invalid($"{{\"required\":[{names}]}}", full.Replace("\"p13\"", "\"q13\"", StringComparison.Ordinal), "required");
    }

    [Fact]
    public void Pattern_properties_and_property_names()
    {
        const string schema = """{"patternProperties":{"^n_":{"type":"number"},"^s_":{"type":"string"}},"additionalProperties":false}""";
        Valid(schema, """{"n_a":1,"s_b":"x"}""");
        Invalid(schema, """{"n_a":"1"}""", "type", "/n_a");
        Invalid(schema, """{"x":1}""", "additionalProperties", "/x");

        const string names = """{"propertyNames":{"maxLength":3,"pattern":"^[a-z]+$"}}""";
        Valid(names, """{"abc":1,"x":2}""");
        Invalid(names, """{"abcd":1}""", "propertyNames");
        Invalid(names, """{"AB":1}""", "propertyNames");
        Valid(names, "\"abcdef\""); // propertyNames only looks at objects
        Invalid("""{"propertyNames":false}""", """{"a":1}""", "propertyNames");
        Valid("""{"propertyNames":false}""", "{}");
    }

    [Fact]
    public void Min_and_max_properties()
    {
        Valid("""{"minProperties":1,"maxProperties":2}""", """{"a":1}""");
        Invalid("""{"minProperties":1}""", "{}", "minProperties");
        Invalid("""{"maxProperties":2}""", """{"a":1,"b":2,"c":3}""", "maxProperties");
        Valid("""{"maxProperties":2.0}""", """{"a":1}""");
    }

    [Fact]
    public void Dependencies_in_array_and_schema_forms()
    {
        const string schema = """{"dependencies":{"card":["billing"],"vip":{"required":["level"],"properties":{"level":{"minimum":1}}}}}""";
        Valid(schema, """{"card":1,"billing":2}""");
        Valid(schema, """{"billing":2}""");
        Invalid(schema, """{"card":1}""", "dependencies");
        Valid(schema, """{"vip":true,"level":3}""");
        Invalid(schema, """{"vip":true}""", "required");
        Invalid(schema, """{"vip":true,"level":0}""", "minimum", "/level");
    }

    [Fact]
    public void Items_tuple_and_additional_items()
    {
        Valid("""{"items":{"type":"integer"}}""", "[1,2,3]");
        Invalid("""{"items":{"type":"integer"}}""", "[1,\"2\"]", "type", "/1");

        const string tuple = """{"items":[{"type":"string"},{"type":"number"}],"additionalItems":false}""";
        Valid(tuple, """["a",1]""");
        Valid(tuple, """["a"]""");
        Invalid(tuple, """[1,1]""", "type", "/0");
        Invalid(tuple, """["a",1,null]""", "additionalItems", "/2");

        const string rest = """{"items":[{"type":"string"}],"additionalItems":{"type":"boolean"}}""";
        Valid(rest, """["a",true,false]""");
        Invalid(rest, """["a",true,3]""", "type", "/2");
        Valid("""{"items":{},"additionalItems":false}""", "[1,2,3]"); // additionalItems needs the array form of items
        Invalid("""{"items":false}""", "[1]", "false", "/0");
        Valid("""{"items":false}""", "[]");
    }

    [Fact]
    public void Min_and_max_items_unique_items_and_contains()
    {
        Valid("""{"minItems":1,"maxItems":2}""", "[1]");
        Invalid("""{"minItems":1}""", "[]", "minItems");
        Invalid("""{"maxItems":2}""", "[1,2,3]", "maxItems");

        const string unique = """{"uniqueItems":true}""";
        Valid(unique, """[1,"1",[1],{"a":1},true,null]""");
        Invalid(unique, "[1,1.0]", "uniqueItems");
        Invalid(unique, "[0,-0]", "uniqueItems");
        Invalid(unique, """[{"a":1,"b":2},{"b":2,"a":1e0}]""", "uniqueItems");
        Invalid(unique, """[[1,2],[1,2]]""", "uniqueItems");
        Valid(unique, """[[1,2],[2,1]]""");
        Valid("""{"uniqueItems":false}""", "[1,1]");
        Assert.Contains("items 0 and 2 are equal", Check(unique, "[5,6,5]").Message, StringComparison.Ordinal);

        Valid("""{"contains":{"type":"string"}}""", """[1,"a"]""");
        Invalid("""{"contains":{"type":"string"}}""", "[1,2]", "contains");
        Invalid("""{"contains":{"type":"string"}}""", "[]", "contains");
    }

    [Fact]
    public void Numeric_bounds_are_exact()
    {
        Valid("""{"minimum":1,"maximum":3}""", "1");
        Valid("""{"minimum":1,"maximum":3}""", "3.0");
        Invalid("""{"minimum":1}""", "0.999", "minimum");
        Invalid("""{"maximum":3}""", "3.0001", "maximum");
        Invalid("""{"exclusiveMinimum":0}""", "0", "exclusiveMinimum");
        Valid("""{"exclusiveMinimum":0}""", "1e-300");
        Invalid("""{"exclusiveMaximum":1.5}""", "15e-1", "exclusiveMaximum");
        Valid("""{"exclusiveMaximum":1.5}""", "1.4999999999999999999999");
        // Past double and long precision: a bound of 10^20 + 1.
        Valid("""{"maximum":100000000000000000001}""", "100000000000000000001");
        Invalid("""{"maximum":100000000000000000001}""", "100000000000000000002", "maximum");
        Valid("""{"maximum":9007199254740993}""", "9007199254740992");
        Invalid("""{"maximum":9007199254740993}""", "9007199254740994", "maximum");
        Valid("""{"minimum":-5}""", "-4.5");
        Invalid("""{"minimum":-5}""", "-5.5", "minimum");
        Valid("""{"minimum":1}""", "\"0\""); // numeric keywords pass other types
    }

    [Fact]
    public void MultipleOf_is_exact_for_short_divisors()
    {
        Valid("""{"multipleOf":2}""", "4.0");
        Invalid("""{"multipleOf":2}""", "5", "multipleOf");
        Valid("""{"multipleOf":0.01}""", "0.07"); // 0.07 / 0.01 is 7.000000000000001 in double
        Invalid("""{"multipleOf":0.01}""", "0.075", "multipleOf");
        Valid("""{"multipleOf":1.5}""", "4.5");
        Valid("""{"multipleOf":0.5}""", "0");
        Invalid("""{"type":"integer","multipleOf":0.123456789}""", "1e308", "multipleOf");
        Valid("""{"multipleOf":10}""", "30.0");
        Invalid("""{"multipleOf":10}""", "35.0", "multipleOf");
        Valid("""{"multipleOf":3}""", "3e400");
        Invalid("""{"multipleOf":3}""", "1e400", "multipleOf");
        Valid("""{"multipleOf":0.3}""", "0.9");
    }

    [Fact]
    public void String_lengths_count_code_points()
    {
        Valid("""{"maxLength":1}""", "\"😀\""); // one code point, two UTF-16 units
        Invalid("""{"minLength":2}""", "\"😀\"", "minLength");
        Invalid("""{"maxLength":1}""", "\"😀😀\"", "maxLength");
        Valid("""{"minLength":3,"maxLength":3}""", "\"a\\u00e9\\ud83d\\ude00\"");
        Valid("""{"maxLength":0}""", "\"\"");
        Invalid("""{"minLength":1}""", "\"\"", "minLength");
        Valid("""{"maxLength":0}""", "[1]");

        ValidationResult lone = Check("""{"maxLength":5}""", "\"\\ud800\"");
        Assert.Equal(ValidationReason.Malformed, lone.Reason);
        Assert.Contains("surrogate", lone.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Pattern_searches_anywhere_unless_anchored()
    {
        Valid("""{"pattern":"b"}""", "\"abc\"");
        Invalid("""{"pattern":"^b"}""", "\"abc\"", "pattern", "/");
        Valid("""{"pattern":"^[a-z]+$"}""", "5"); // only strings
        Valid("""{"pattern":"^\\p{L}+$"}""", "\"été\"");
    }

    [Fact]
    public void Format_and_unknown_keywords_are_ignored()
    {
        Valid("""{"format":"email"}""", "\"not an email\"");
        Valid("""{"format":"date-time","x-vendor":{"anything":[1]},"minContains":5}""", "\"x\"");
        Valid("""{"title":"t","description":"d","default":5,"examples":[1],"$comment":"c","readOnly":true}""", "1");
    }

    [Fact]
    public void AllOf_anyOf_oneOf_not_report_their_keyword()
    {
        Invalid("""{"allOf":[{"type":"number"},{"minimum":3}]}""", "2", "minimum");
        Invalid("""{"anyOf":[{"type":"string"},{"minimum":3}]}""", "2", "anyOf");
        Valid("""{"anyOf":[{"type":"string"},{"minimum":3}]}""", "4");
        Invalid("""{"oneOf":[{"type":"integer"},{"minimum":3}]}""", "4", "oneOf");
        Invalid("""{"oneOf":[{"type":"string"},{"minimum":3}]}""", "2", "oneOf");
        Valid("""{"oneOf":[{"type":"integer"},{"minimum":3}]}""", "3.5");
        Invalid("""{"not":{"type":"null"}}""", "null", "not");
        Valid("""{"not":{"type":"null"}}""", "0");
        // Inside anyOf a branch's own failure is not what is reported: the anyOf is.
        Invalid("""{"properties":{"a":{"anyOf":[{"type":"string"},{"type":"integer"}]}}}""", """{"a":1.5}""", "anyOf", "/a");
    }

    [Fact]
    public void If_then_else()
    {
        const string schema = """{"if":{"properties":{"kind":{"const":"n"}}},"then":{"properties":{"v":{"type":"number"}}},"else":{"properties":{"v":{"type":"string"}}}}""";
        Valid(schema, """{"kind":"n","v":1}""");
        Invalid(schema, """{"kind":"n","v":"1"}""", "type", "/v");
        Valid(schema, """{"kind":"s","v":"1"}""");
        Invalid(schema, """{"kind":"s","v":1}""", "type", "/v");
        Valid("""{"then":false}""", "1"); // then without if does nothing
        Valid("""{"if":false}""", "1");
        Invalid("""{"if":true,"then":false}""", "1", "false");
    }

    [Fact]
    public void Boolean_schemas()
    {
        Valid("""{"allOf":[true]}""", "1");
        Invalid("""{"allOf":[false]}""", "1", "false", "/");
        Valid("""{"properties":{"a":true,"b":false}}""", """{"a":[1]}""");
        Invalid("""{"properties":{"a":true,"b":false}}""", """{"b":1}""", "false", "/b");
        Valid("""{"definitions":{"no":false},"properties":{"x":{"$ref":"#/definitions/no"}}}""", "{}");
        Invalid("""{"definitions":{"no":false},"properties":{"x":{"$ref":"#/definitions/no"}}}""", """{"x":0}""", "false", "/x");
    }

    [Fact]
    public void Refs_decode_pointer_escapes_and_ignore_their_siblings()
    {
        const string schema = """{"definitions":{"a~b":{"type":"integer"},"c%d":{"type":"string"},"e f":{"minimum":5}},"x-lists":{"list":[{"type":"null"}]},"properties":{"p":{"$ref":"#/definitions/a~0b"},"q":{"$ref":"#/definitions/c%25d"},"r":{"$ref":"#/definitions/e%20f"},"s":{"$ref":"#/x-lists/list/0"}}}""";
        Valid(schema, """{"p":1,"q":"x","r":6,"s":null}""");
        Invalid(schema, """{"p":"1"}""", "type", "/p");
        Invalid(schema, """{"q":1}""", "type", "/q");
        Invalid(schema, """{"r":4}""", "minimum", "/r");
        Invalid(schema, """{"s":0}""", "type", "/s");
        // draft-07: keywords beside $ref are ignored.
        Valid("""{"definitions":{"n":{"type":"number"}},"properties":{"a":{"$ref":"#/definitions/n","maximum":0,"type":"string"}}}""", """{"a":5}""");
        Assert.Equal(SchemaError.UnresolvableRef, Refused("""{"x-lists":{"list":[{}]},"$ref":"#/x-lists/list/1"}"""));
        Assert.Equal(SchemaError.UnresolvableRef, Refused("""{"x-lists":{"list":[{}]},"$ref":"#/x-lists/list/-0"}"""));
    }

    [Fact]
    public void Refs_to_the_root_recurse_through_the_value()
    {
        const string tree = """{"type":"object","required":["v"],"properties":{"v":{"type":"integer"},"kids":{"type":"array","items":{"$ref":"#"}}}}""";
        Valid(tree, """{"v":1,"kids":[{"v":2,"kids":[{"v":3}]}]}""");
        Invalid(tree, """{"v":1,"kids":[{"v":2,"kids":[{"v":"3"}]}]}""", "type", "/kids/0/kids/0/v");
    }

    [Theory]
    [InlineData("""{"type":[]}""")]
    [InlineData("""{"type":["string","string"]}""")]
    [InlineData("""{"type":5}""")]
    [InlineData("""{"enum":3}""")]
    [InlineData("""{"items":5}""")]
    [InlineData("""{"properties":{"a":5}}""")]
    [InlineData("""{"properties":[]}""")]
    [InlineData("""{"multipleOf":0}""")]
    [InlineData("""{"multipleOf":-1}""")]
    [InlineData("""{"minItems":-1}""")]
    [InlineData("""{"maxLength":1.5}""")]
    [InlineData("""{"required":["a","a"]}""")]
    [InlineData("""{"required":[1]}""")]
    [InlineData("""{"dependencies":{"a":5}}""")]
    [InlineData("""{"dependencies":{"a":[1]}}""")]
    [InlineData("""{"exclusiveMinimum":true}""")]
    [InlineData("""{"minimum":"1"}""")]
    [InlineData("""{"uniqueItems":1}""")]
    [InlineData("""{"allOf":[]}""")]
    [InlineData("""{"anyOf":{}}""")]
    [InlineData("""{"not":null}""")]
    [InlineData("""{"$ref":5}""")]
    [InlineData("""{"pattern":5}""")]
    [InlineData("""{"pattern":"[^]"}""")]
    [InlineData("""{"definitions":{"a":"x"}}""")]
    [InlineData("""{"const":"\ud800"}""")]
    public void Bad_keyword_values_are_refused_as_malformed(string schema)
    {
        Assert.Equal(SchemaError.Malformed, Refused(schema));
    }

    [Fact]
    public void Huge_enum_is_one_lookup_per_value()
    {
        // As many entries as 64 KiB holds, against a 1 MB array checked item by item.
        string entries = string.Join(',', Enumerable.Range(0, 9000).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        string schema = $"{{\"items\":{{\"enum\":[{entries}]}}}}";
        Assert.True(Encoding.UTF8.GetByteCount(schema) < JsonSchemaDocument.MaxSchemaBytes);
        string value = "[" + string.Join(',', Enumerable.Range(0, 150_000).Select(i => (i % 9000).ToString(System.Globalization.CultureInfo.InvariantCulture))) + "]";
        var clock = Stopwatch.StartNew();
        Valid(schema, value);
        Invalid(schema, value[..^1] + ",9000]", "enum", "/150000");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"took {clock.Elapsed}");
    }

    [Fact]
    public void Fan_out_that_doubles_per_level_stops_at_the_step_budget()
    {
        // Each level applies the root twice to the next: 2^60 applications on a 60-deep value, if nothing stopped it.
        const string schema = """{"properties":{"a":{"allOf":[{"$ref":"#"},{"$ref":"#"}]}}}""";
        string value = string.Concat(Enumerable.Repeat("{\"a\":", 60)) + "1" + new string('}', 60);
        var clock = Stopwatch.StartNew();
        ValidationResult result = Check(schema, value);
        Assert.Equal(ValidationReason.TooLarge, result.Reason);
        Assert.Contains("steps", result.Message, StringComparison.Ordinal);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"took {clock.Elapsed}");
        Valid(schema, string.Concat(Enumerable.Repeat("{\"a\":", 8)) + "1" + new string('}', 8));
    }

    [Fact]
    public void Catastrophic_regex_fails_even_under_not_and_anyOf()
    {
        string evil = "\"" + new string('a', 40) + "!\"";
        foreach (string schema in new[]
        {
            """{"not":{"pattern":"^(a+)+$"}}""",
            """{"anyOf":[{"pattern":"^(a+)+$"},{"type":"string"}]}""",
            """{"propertyNames":{"pattern":"^(a+)+$"}}""",
            """{"patternProperties":{"^(a+)+$":{}}}""",
        })
        {
            string value = schema.Contains("propert", StringComparison.OrdinalIgnoreCase) ? "{" + evil + ":1}" : evil;
            var clock = Stopwatch.StartNew();
            ValidationResult result = Check(schema, value);
            Assert.True(result.Reason == ValidationReason.SchemaViolation, $"{schema} on {value}: {result}");
            Assert.Contains("100 ms", result.Message, StringComparison.Ordinal);
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"{schema} took {clock.Elapsed}");
        }
    }

    [Fact]
    public void Many_slow_matches_stop_at_the_pattern_budget()
    {
        // Each match stays under the 100 ms timeout, but together they would run for long: the 1 s budget stops them.
        const string schema = """{"items":{"pattern":"^(a|aa)+$"}}""";
        string slow = "\"" + new string('a', 28) + "!\"";
        string value = "[" + string.Join(',', Enumerable.Repeat(slow, 2000)) + "]";
        var clock = Stopwatch.StartNew();
        ValidationResult result = Check(schema, value);
        Assert.False(result.IsValid);
        Assert.True(result.Reason is ValidationReason.TooLarge or ValidationReason.SchemaViolation, result.ToString());
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"took {clock.Elapsed}");
    }

    [Fact]
    public void Deep_schema_nesting_validates_to_the_bottom()
    {
        string Nest(int levels) => string.Concat(Enumerable.Repeat("{\"items\":", levels - 1)) + "{\"type\":\"integer\"}" + new string('}', levels - 1);
        string Value(int levels, string leaf) => new string('[', levels - 1) + leaf + new string(']', levels - 1);
        Valid(Nest(32), Value(32, "1"));
        Invalid(Nest(32), Value(32, "1.5"), "type", string.Concat(Enumerable.Repeat("/0", 31)));
    }
}
