using InfraMind.Node.Models.Bundles;

namespace InfraMind.Node.Tests.Models;

public class ModelManifestTests
{
    [Fact]
    public void The_docs_manifest_parses_with_short_schema_forms()
    {
        ModelManifest manifest = ModelManifest.Parse("""
            name: sentiment
            version: 2.1.0
            runtime: python3.10
            entrypoint: serve.py
            protocol: rest
            port: 9000
            resources:
              cpu: 2
              memory: 2Gi
              gpu: true
            input_schema:
              type: text
            output_schema:
              type: vector<float>
            multi_node:
              enabled: false
            """);
        Assert.Equal("sentiment", manifest.Name);
        Assert.Equal(ModelProtocol.Rest, manifest.Protocol);
        Assert.Equal(9000, manifest.Port);
        Assert.Equal(2000, manifest.Resources.CpuMillicores);
        Assert.Equal(2L << 30, manifest.Resources.MemoryBytes);
        Assert.True(manifest.Resources.Gpu);
        Assert.Equal("text", manifest.InputSchema);
        Assert.Equal("vector<float>", manifest.OutputSchema);
        Assert.Equal(["multi_node"], manifest.UnknownKeys);
    }

    [Fact]
    public void A_json_schema_becomes_its_compact_json_text_with_yaml_types_kept()
    {
        ModelManifest manifest = ModelManifest.Parse("""
            name: m
            protocol: stdio
            ports:
              inference: 8080
            resources: {cpu: 500m, memory: 512Mi}
            input_schema:
              type: object
              properties:
                prompt: {type: string, minLength: 1, maxLength: 4096}
                stream: {type: boolean, default: false}
                label: {type: string, const: "true"}
              required: [prompt]
            output_schema: embedding<float>
            """);
        Assert.Equal(8080, manifest.Port);
        Assert.Equal(500, manifest.Resources.CpuMillicores);
        Assert.Equal(
            """{"type":"object","properties":{"prompt":{"type":"string","minLength":1,"maxLength":4096},"stream":{"type":"boolean","default":false},"label":{"type":"string","const":"true"}},"required":["prompt"]}""",
            manifest.InputSchema);
        Assert.Equal("embedding<float>", manifest.OutputSchema);
    }

    [Theory]
    [InlineData("protocol: rest\ninput_schema: text\noutput_schema: text\n", "name is missing")]
    [InlineData("name: m\ninput_schema: text\n", "output_schema are both required")]
    [InlineData("name: m\nprotocol: grpc\ninput_schema: text\noutput_schema: text\n", "line 2: protocol 'grpc' is not supported")]
    [InlineData("name: m\nport: 99999\ninput_schema: text\noutput_schema: text\n", "line 2: port must be a TCP port")]
    [InlineData("name: m\nresources:\n  memory: lots\ninput_schema: text\noutput_schema: text\n", "line 3: resources.memory")]
    [InlineData("name: m\nresources:\n  cpu: -1\ninput_schema: text\noutput_schema: text\n", "line 3: resources.cpu")]
    [InlineData("name: m\nresources:\n  gpu: maybe\ninput_schema: text\noutput_schema: text\n", "resources.gpu must be true or false")]
    [InlineData("- a list\n", "top level must be a map")]
    [InlineData("name: \"unclosed\n", "not valid YAML")]
    [InlineData("name: m\ninput_schema: &a {type: object}\noutput_schema: *a\n", "aliases")]
    public void Bad_manifests_are_refused_naming_the_problem(string yaml, string expected)
    {
        var error = Assert.Throws<ManifestException>(() => ModelManifest.Parse(yaml));
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Hostile_manifests_are_refused_without_crashing()
    {
        Assert.Throws<ManifestException>(() => ModelManifest.Parse("name: m\ninput_schema: " + new string('[', 5000) + new string(']', 5000) + "\noutput_schema: text\n"));
        Assert.Throws<ManifestException>(() => ModelManifest.Parse("name: " + new string('x', ModelManifest.MaxBytes) + "\n"));
    }
}
