using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using InfraMind.Node.Containers.Engine;
using InfraMind.Node.Containers.Runs;
using InfraMind.Node.Containers.Sandbox;
using InfraMind.Node.Models;
using InfraMind.Node.Models.Bundles;
using InfraMind.Node.Models.Content;
using InfraMind.Node.Tests.Containers;
using InfraMind.Node.Tests.Support;

namespace InfraMind.Node.Tests.Examples;

/// <summary>
/// The bundles examples/embedder/package.sh writes, read by the node's own code (BundleLayout, ModelManifest,
/// BundleArchive, CarBundleReader) and run by it in the real sandbox (ImageLoader, StdioRunner, RestContainer)
/// on Docker and Podman, with the image's own entrypoint and command, as a job would run them.
/// </summary>
public class EmbedderBundleTests
{
    private const string Sample = "Sandboxed embeddings: Grüße, 日本語 and 🚀 in one text.";

    [Theory]
    [InlineData("rest")]
    [InlineData("stdio")]
    public void Both_bundle_folders_validate_with_the_manifest_package_sh_promises(string protocol)
    {
        EmbedderBundle bundle = EmbedderArtifacts.Bundle(protocol);
        ValidatedBundle validated = BundleLayout.Validate(bundle.Folder);
        ModelManifest manifest = validated.Manifest;

        Assert.Equal($"text-embedder-{protocol}", manifest.Name);
        Assert.Equal("1.0.0", manifest.Version);
        Assert.Equal("static", manifest.Runtime);
        Assert.Equal(protocol == "rest" ? ModelProtocol.Rest : ModelProtocol.Stdio, manifest.Protocol);
        Assert.Equal(protocol == "rest" ? "/embedder serve 8080" : "/embedder stdio", manifest.Entrypoint);
        if (protocol == "rest")
            Assert.Equal(8080, manifest.Port);
        Assert.Equal(new ResourceRequest(64L << 20, 500), manifest.Resources);
        Assert.Equal("text", manifest.InputSchema);
        Assert.Equal("embedding<float>", manifest.OutputSchema);
        Assert.Empty(manifest.UnknownKeys);
        Assert.Equal(Path.Combine(bundle.Folder, "container.tar"), validated.ImageArchive);
        Assert.Equal(protocol == "rest" ? ["health.sh", "warmup.sh"] : [], validated.Hooks.Order(StringComparer.Ordinal));
        Assert.True(File.Exists(Path.Combine(bundle.Folder, "README.md")));
    }

    [Theory]
    [InlineData("rest")]
    [InlineData("stdio")]
    public void The_tar_gz_hashes_to_its_model_hash_and_unpacks_to_the_same_bundle(string protocol)
    {
        EmbedderBundle bundle = EmbedderArtifacts.Bundle(protocol);
        using FileStream archive = File.OpenRead(bundle.Archive);
        Assert.Equal(bundle.ModelHash, "sha256:" + Convert.ToHexStringLower(SHA256.HashData(archive)));

        using var temp = new TempFolder();
        string output = temp["unpacked"];
        Directory.CreateDirectory(output);
        BundleArchive.Extract(bundle.Archive, output, maxBytes: 64L << 20);
        Assert.Equal(BundleLayout.Validate(bundle.Folder).Manifest with { UnknownKeys = [] }, BundleLayout.Validate(output).Manifest with { UnknownKeys = [] });
        AssertSameFiles(bundle.Folder, output);
    }

    [Theory]
    [InlineData("rest")]
    [InlineData("stdio")]
    public async Task The_car_verifies_against_its_cid_and_unpacks_to_the_same_bundle(string protocol)
    {
        EmbedderBundle bundle = EmbedderArtifacts.Bundle(protocol);
        Assert.StartsWith("bafy", bundle.Cid, StringComparison.Ordinal);
        using var temp = new TempFolder();
        await using FileStream car = File.OpenRead(bundle.Car);
        BundleSummary summary = await CarBundleReader.ExtractAsync(Cid.Parse(bundle.Cid), car, temp["unpacked"], "bundle", maxBytes: 64L << 20);
        Assert.True(summary.IsDirectory);
        BundleLayout.Validate(temp["unpacked"]);
        AssertSameFiles(bundle.Folder, temp["unpacked"]);
    }

    [Fact]
    public async Task A_car_for_another_cid_is_refused()
    {
        // The rest CAR offered as the stdio bundle: the root check must catch it before anything is written.
        using var temp = new TempFolder();
        await using FileStream car = File.OpenRead(EmbedderArtifacts.Bundle("rest").Car);
        await Assert.ThrowsAsync<BundleException>(() =>
            CarBundleReader.ExtractAsync(Cid.Parse(EmbedderArtifacts.Bundle("stdio").Cid), car, temp["unpacked"], "bundle", maxBytes: 64L << 20));
        Assert.False(Directory.Exists(temp["unpacked"]));
    }

    [Theory]
    [MemberData(nameof(Engines.Both), MemberType = typeof(Engines))]
    public async Task The_stdio_bundle_runs_in_the_sandbox_and_matches_the_reference(string engine)
    {
        ValidatedBundle bundle = BundleLayout.Validate(EmbedderArtifacts.Bundle("stdio").Folder);
        await using EngineClient client = await Engines.ConnectAsync(engine);
        LoadedImage image = await ImageLoader.LoadAsync(client, bundle.ImageArchive, null, CancellationToken.None);
        Assert.Equal(EmbedderArtifacts.Bundle("stdio").ImageId, image.ImageId);

        // No Command: the image's own ENTRYPOINT and CMD ("/embedder stdio") run, as for a job.
        var spec = new SandboxSpec(image.ImageId, $"embedder-stdio-{Guid.NewGuid():N}", EngineClientTests.TestNode, bundle.Manifest.Resources);
        RunResult result = await new StdioRunner(client).RunAsync(spec, Encoding.UTF8.GetBytes(Sample), new RunLimits(DateTimeOffset.UtcNow.AddMinutes(1)), CancellationToken.None);
        Assert.True(result.Succeeded, $"failure {result.Failure}, exit {result.ExitCode}, stderr: {Encoding.UTF8.GetString(result.Stderr)}");
        Assert.True(result.LimitsVerified);
        EmbedderArtifacts.AssertClose(EmbedderArtifacts.Reference([Sample])[0], EmbedderArtifacts.ParseVector(Encoding.UTF8.GetString(result.Stdout)), $"stdio on {engine}");
    }

    [Theory]
    [MemberData(nameof(Engines.Both), MemberType = typeof(Engines))]
    public async Task The_rest_bundle_serves_on_its_loopback_in_the_sandbox_and_matches_the_reference(string engine)
    {
        ValidatedBundle bundle = BundleLayout.Validate(EmbedderArtifacts.Bundle("rest").Folder);
        await using EngineClient client = await Engines.ConnectAsync(engine);
        LoadedImage image = await ImageLoader.LoadAsync(client, bundle.ImageArchive, null, CancellationToken.None);

        var spec = new SandboxSpec(image.ImageId, $"embedder-rest-{Guid.NewGuid():N}", EngineClientTests.TestNode, bundle.Manifest.Resources);
        await using RestContainer model = await RestContainer.StartAsync(new SandboxLauncher(client), spec, bundle.Manifest.Port, TimeSpan.FromSeconds(20), CancellationToken.None);
        Assert.NotNull(model.Cgroup);

        string[] texts = [Sample, "", "second request on the same warm container"];
        IReadOnlyList<double[]> reference = EmbedderArtifacts.Reference(texts);
        for (int i = 0; i < texts.Length; i++)
        {
            // The node sends the job's text input as a JSON string under "input".
            byte[] input = JsonSerializer.SerializeToUtf8Bytes(texts[i], ExampleJson.Default.String);
            byte[] output = await model.InferAsync(input, CancellationToken.None);
            EmbedderArtifacts.AssertClose(reference[i], EmbedderArtifacts.ParseVector(Encoding.UTF8.GetString(output)), $"rest on {engine}, text #{i}");
        }

        // A body the model refuses is reported, and the container keeps serving.
        await Assert.ThrowsAsync<SandboxException>(() => model.InferAsync("42"u8.ToArray(), CancellationToken.None));
        byte[] again = await model.InferAsync(JsonSerializer.SerializeToUtf8Bytes(Sample, ExampleJson.Default.String), CancellationToken.None);
        EmbedderArtifacts.AssertClose(reference[0], EmbedderArtifacts.ParseVector(Encoding.UTF8.GetString(again)), "after a refusal");
    }

    private static void AssertSameFiles(string expected, string actual)
    {
        static string[] List(string root) =>
            Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(root, f)).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(List(expected), List(actual));
        foreach (string file in List(expected))
            Assert.True(File.ReadAllBytes(Path.Combine(expected, file)).AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(actual, file))), $"{file} differs");
    }
}
