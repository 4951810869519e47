using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using InfraMind.Node.Tests.Configuration;

namespace InfraMind.Node.Tests.Examples;

/// <summary>One bundle as examples/embedder/package.sh describes it in dist/bundles.json (paths made absolute).</summary>
public sealed record EmbedderBundle(string Name, string Protocol, string Folder, string Image, string ImageId, string Archive, string ModelHash, string Car, string Cid);

/// <summary>
/// The sample embedder's build outputs. package.sh runs once per test run (it is idempotent: half a second
/// when nothing changed, seconds when it rebuilds), so the tests always see the current embedder.c.
/// </summary>
public static class EmbedderArtifacts
{
    public const int Dimensions = 256;

    private static readonly Lazy<(string Dist, IReadOnlyList<EmbedderBundle> Bundles)> Built = new(Package);

    public static string Folder => Path.Combine(ConfigLoaderTests.RepoRoot(), "examples", "embedder");

    /// <summary>The static binary on the host (the same bytes as in the images).</summary>
    public static string Binary => Path.Combine(Built.Value.Dist, "build", "embedder");

    public static EmbedderBundle Bundle(string protocol) => Built.Value.Bundles.Single(b => b.Protocol == protocol);

    private static (string, IReadOnlyList<EmbedderBundle>) Package()
    {
        string script = Path.Combine(Folder, "package.sh");
        (int exit, string stdout, string stderr) = Run("bash", [script], stdin: null, TimeSpan.FromMinutes(5));
        if (exit != 0)
            throw new InvalidOperationException($"examples/embedder/package.sh failed ({exit}):\n{stderr}");

        string dist = Path.Combine(Folder, "dist");
        using JsonDocument json = JsonDocument.Parse(File.ReadAllText(Path.Combine(dist, "bundles.json")));
        var bundles = new List<EmbedderBundle>();
        foreach (JsonElement b in json.RootElement.GetProperty("bundles").EnumerateArray())
        {
            string At(string key) => Path.Combine(dist, b.GetProperty(key).GetString()!);
            string Text(string key) => b.GetProperty(key).GetString()!;
            bundles.Add(new EmbedderBundle(Text("name"), Text("protocol"), At("folder"), Text("image"), Text("image_id"), At("archive"), Text("model_hash"), At("car"), Text("cid")));
        }

        _ = stdout;
        return (dist, bundles);
    }

    /// <summary>The Python reference (examples/embedder/reference.py) for each text, one process for all.</summary>
    public static IReadOnlyList<double[]> Reference(IReadOnlyList<string> texts)
    {
        var lines = new StringBuilder();
        foreach (string text in texts)
            lines.Append(JsonSerializer.Serialize(text, ExampleJson.Default.String)).Append('\n');
        (int exit, string stdout, string stderr) = Run("/usr/bin/python3", [Path.Combine(Folder, "reference.py"), "--json-lines"], Encoding.UTF8.GetBytes(lines.ToString()), TimeSpan.FromMinutes(2));
        Assert.True(exit == 0, $"reference.py failed ({exit}): {stderr}");
        string[] outputs = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(texts.Count, outputs.Length);
        return outputs.Select(ParseVector).ToList();
    }

    /// <summary>A JSON array of exactly 256 finite numbers, or the test fails.</summary>
    public static double[] ParseVector(string json)
    {
        using JsonDocument document = JsonDocument.Parse(json);
        Assert.Equal(JsonValueKind.Array, document.RootElement.ValueKind);
        double[] vector = document.RootElement.EnumerateArray().Select(e => e.GetDouble()).ToArray();
        Assert.Equal(Dimensions, vector.Length);
        Assert.All(vector, v => Assert.True(double.IsFinite(v)));
        return vector;
    }

    public static void AssertClose(double[] expected, double[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            if (Math.Abs(expected[i] - actual[i]) > 1e-6)
                Assert.Fail($"{what}: element {i} is {actual[i].ToString("R", CultureInfo.InvariantCulture)}, the reference says {expected[i].ToString("R", CultureInfo.InvariantCulture)}");
        }
    }

    public static (int ExitCode, string StdOut, string StdErr) Run(string file, string[] args, byte[]? stdin, TimeSpan timeout)
    {
        var start = new ProcessStartInfo(file, args)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        using Process process = Process.Start(start)!;
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        try
        {
            if (stdin is not null)
                process.StandardInput.BaseStream.Write(stdin);
            process.StandardInput.Close();
        }
        catch (IOException)
        {
            // The program stopped reading (it refuses input over its limit): its exit code says why.
        }

        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', args)} did not finish in {timeout.TotalSeconds} s");
        }

        return (process.ExitCode, stdout.Result, stderr.Result);
    }
}

[System.Text.Json.Serialization.JsonSerializable(typeof(string))]
internal sealed partial class ExampleJson : System.Text.Json.Serialization.JsonSerializerContext;
