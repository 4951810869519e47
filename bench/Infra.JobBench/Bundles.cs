using System.Text.Json;
using InfraMind.Node.Containers.Sandbox;
using InfraMind.Node.Models.Bundles;

namespace InfraMind.Node.JobBench;

/// <summary>One sample-model bundle built by examples/embedder/package.sh, as bundles.json and its model.yaml describe it.</summary>
internal sealed record Bundle(string Protocol, string Image, string ImageId, string ModelHash, string Archive, ResourceRequest Resources, int Port)
{
    /// <summary>Reads dist/bundles.json and each bundle's model.yaml (the resources the node will apply).</summary>
    public static Dictionary<string, Bundle> Load(string dist)
    {
        string index = Path.Combine(dist, "bundles.json");
        if (!File.Exists(index))
            throw new InvalidOperationException($"{index} is missing; fix: run examples/embedder/package.sh");
        using JsonDocument json = JsonDocument.Parse(File.ReadAllBytes(index));
        var bundles = new Dictionary<string, Bundle>(StringComparer.Ordinal);
        foreach (JsonElement b in json.RootElement.GetProperty("bundles").EnumerateArray())
        {
            string protocol = b.GetProperty("protocol").GetString()!;
            ModelManifest manifest = ModelManifest.Parse(File.ReadAllText(Path.Combine(dist, b.GetProperty("folder").GetString()!, "model.yaml")));
            bundles[protocol] = new Bundle(protocol, b.GetProperty("image").GetString()!, b.GetProperty("image_id").GetString()!,
                b.GetProperty("model_hash").GetString()!, b.GetProperty("archive").GetString()!, manifest.Resources, manifest.Port);
        }

        foreach (string needed in (string[])["stdio", "rest"])
        {
            if (!bundles.ContainsKey(needed))
                throw new InvalidOperationException($"{index} has no {needed} bundle; fix: run examples/embedder/package.sh --force");
        }

        return bundles;
    }
}
