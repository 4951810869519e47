using InfraMind.Node.Containers.Engine;

namespace InfraMind.Node.Models;

/// <summary>A model image in the engine: its id (the sha256 of its config, for the receipt) and a name.</summary>
public sealed record LoadedImage(string ImageId, string? Name);

/// <summary>Loads a verified bundle's image archive into the engine, streamed from the cache.</summary>
public static class ImageLoader
{
    public static async Task<LoadedImage> LoadAsync(EngineClient engine, string archive, IProgress<long>? progress, CancellationToken cancellationToken)
    {
        IReadOnlyList<string> lines = await engine.LoadImageAsync(archive, progress, cancellationToken).ConfigureAwait(false);
        string? id = null, name = null;
        foreach (string line in lines)
        {
            // Docker: "Loaded image: name:tag" or "Loaded image ID: sha256:…"; Podman: "Loaded image: name" or "Loaded image(s): a,b".
            int colon = line.IndexOf(": ", StringComparison.Ordinal);
            if (colon < 0 || !line.StartsWith("Loaded image", StringComparison.Ordinal))
                continue;
            string value = line[(colon + 2)..].Split(',')[0].Trim();
            if (value.StartsWith("sha256:", StringComparison.Ordinal))
                id ??= value;
            else
                name ??= value;
        }

        string? reference = id ?? name;
        if (reference is null)
            throw new EngineException(EngineError.Protocol, $"the engine loaded {Path.GetFileName(archive)} but did not say what it loaded");
        ImageInspectResponse image = await engine.InspectImageAsync(reference, cancellationToken).ConfigureAwait(false)
            ?? throw new EngineException(EngineError.ImageMissing, $"the engine reported loading {reference}, but does not have it");
        return new LoadedImage(image.Id ?? reference, name);
    }
}
