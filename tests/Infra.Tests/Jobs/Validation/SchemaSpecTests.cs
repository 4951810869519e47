using InfraMind.Node.Jobs.Validation;

namespace InfraMind.Node.Tests.Jobs.Validation;

public class SchemaSpecTests
{
    [Theory]
    [InlineData("text", SchemaKind.Text)]
    [InlineData("json", SchemaKind.Json)]
    [InlineData("embedding<float>", SchemaKind.Embedding)]
    [InlineData("vector<float>", SchemaKind.Vector)]
    [InlineData("{\"type\":\"string\"}", SchemaKind.JsonSchema)]
    [InlineData(" {}", SchemaKind.JsonSchema)]
    public void Short_types_and_documents_compile(string text, SchemaKind kind)
    {
        SchemaSpec spec = SchemaSpec.Parse(text);
        Assert.Equal(kind, spec.Kind);
        Assert.Equal(text, spec.Text);
    }

    [Theory]
    [InlineData("foo")]
    [InlineData("")]
    [InlineData("Text")]
    [InlineData(" text")]
    [InlineData("embedding<double>")]
    [InlineData("vector")]
    [InlineData("true")]
    [InlineData("[\"text\"]")]
    public void Unknown_short_types_are_clear_errors(string text)
    {
        SchemaException e = Assert.Throws<SchemaException>(() => SchemaSpec.Parse(text));
        Assert.Equal(SchemaError.UnknownType, e.Error);
        Assert.Equal($"unknown schema type \"{text}\": use text, json, embedding<float>, vector<float> or a JSON Schema object", e.Message);
    }

    [Fact]
    public void Unknown_type_message_is_bounded()
    {
        SchemaException e = Assert.Throws<SchemaException>(() => SchemaSpec.Parse(new string('q', 100_000)));
        Assert.True(e.Message.Length < 200);
    }

    [Fact]
    public void Compiled_schemas_are_cached_by_text_and_the_cache_is_bounded()
    {
        const string text = "{\"type\":\"integer\",\"description\":\"cache-probe\"}";
        Assert.Same(SchemaSpec.Parse(text), SchemaSpec.Parse(text));
        Assert.Same(SchemaSpec.Parse("text"), SchemaSpec.Parse("text"));
        for (int i = 0; i < SchemaSpec.CacheCapacity * 2; i++)
            SchemaSpec.Parse($"{{\"minimum\":{i}}}");
        // Other test classes parse in parallel; the bound is the capacity plus adds in flight at a reset.
        Assert.True(SchemaSpec.CachedCount <= SchemaSpec.CacheCapacity + 16, $"{SchemaSpec.CachedCount} cached");
    }
}
