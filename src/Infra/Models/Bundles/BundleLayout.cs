using System.Formats.Tar;
using System.IO.Compression;

namespace InfraMind.Node.Models.Bundles;

/// <summary>A bundle folder that passed validation: its manifest, its image archive, its hooks.</summary>
public sealed record ValidatedBundle(string Folder, ModelManifest Manifest, string ImageArchive, IReadOnlyList<string> Hooks);

/// <summary>
/// Checks a bundle folder (CONTRACT.md §8): model.yaml parses, an image archive container.tar or
/// container.tar.gz is there and is a docker-save archive or an OCI layout carrying manifest.json, and the
/// hooks are the known ones.
/// </summary>
public static class BundleLayout
{
    public static readonly IReadOnlyList<string> KnownHooks = ["init.sh", "warmup.sh", "health.sh"];

    private static readonly string[] ArchiveNames = ["container.tar", "container.tar.gz"];

    /// <param name="checkImageArchive">
    /// False for a cache hit: the archive was checked before the bundle was committed, and a hit reads nothing
    /// but the manifest.
    /// </param>
    public static ValidatedBundle Validate(string folder, bool checkImageArchive = true)
    {
        // A tarball packed with one top folder ("bundle/model.yaml") is accepted as that folder.
        if (!File.Exists(Path.Combine(folder, "model.yaml")))
        {
            string[] children = Directory.GetDirectories(folder);
            if (children.Length == 1 && Directory.GetFiles(folder).Length == 0 && File.Exists(Path.Combine(children[0], "model.yaml")))
                folder = children[0];
            else
                throw new BundleFormatException("the bundle has no model.yaml at its top level");
        }

        string yaml = File.ReadAllText(Path.Combine(folder, "model.yaml"));
        ModelManifest manifest;
        try
        {
            manifest = ModelManifest.Parse(yaml);
        }
        catch (ManifestException e)
        {
            throw new BundleFormatException(e.Message, e);
        }

        string? archive = ArchiveNames.Select(n => Path.Combine(folder, n)).FirstOrDefault(File.Exists)
            ?? throw new BundleFormatException("the bundle has no image archive (container.tar or container.tar.gz)");
        if (checkImageArchive)
            CheckImageArchive(archive);

        string hooksFolder = Path.Combine(folder, "hooks");
        var hooks = new List<string>();
        if (Directory.Exists(hooksFolder))
        {
            foreach (string hook in Directory.EnumerateFiles(hooksFolder))
            {
                string name = Path.GetFileName(hook);
                if (KnownHooks.Contains(name))
                    hooks.Add(name);
            }
        }

        return new ValidatedBundle(folder, manifest, archive, hooks);
    }

    /// <summary>Reads the archive's tar headers (through gzip if need be) and requires a manifest.json.</summary>
    private static void CheckImageArchive(string archive)
    {
        try
        {
            using FileStream file = File.OpenRead(archive);
            using Stream input = BundleArchive.IsGzip(archive) ? new GZipStream(file, CompressionMode.Decompress) : file;
            using var reader = new TarReader(input);
            bool manifest = false;
            while (reader.GetNextEntry(copyData: false) is { } entry)
            {
                if (entry.Name.TrimStart('.', '/') == "manifest.json")
                    manifest = true;
            }

            if (!manifest)
                throw new BundleFormatException($"{Path.GetFileName(archive)} is not an image archive the engines load: it has no manifest.json (use `docker save`, or an OCI layout that also carries manifest.json)");
        }
        catch (Exception e) when (e is InvalidDataException or FormatException or EndOfStreamException)
        {
            throw new BundleFormatException($"{Path.GetFileName(archive)} is not a valid tar archive: {e.Message}", e);
        }
    }
}
