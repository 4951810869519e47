using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;

namespace InfraMind.Node.Tests.Support;

/// <summary>
/// Builds model bundles for the tests from the probe image: model.yaml, a docker-save container.tar retagged
/// to a name unique to the test (so "did it reach the engine?" has a clear answer), and hooks/.
/// </summary>
public static class TestBundles
{
    public const string Manifest = """
        name: probe-echo
        version: 1.0.0
        runtime: static
        entrypoint: /probe
        protocol: stdio
        resources:
          cpu: 500m
          memory: 64Mi
        input_schema:
          type: text
        output_schema:
          type: text
        """;

    /// <summary>
    /// A bundle folder whose image loads as <paramref name="tag"/>. With <paramref name="uniqueImage"/> the image
    /// has an id of its own (its config carries a unique comment), so removing it from the engine removes it for
    /// this test only; otherwise it shares the probe image's id.
    /// </summary>
    public static string CreateFolder(TempFolder temp, string tag, string manifest = Manifest, bool uniqueImage = false)
    {
        string folder = temp["bundle-src"];
        Directory.CreateDirectory(Path.Combine(folder, "hooks"));
        File.WriteAllText(Path.Combine(folder, "model.yaml"), manifest);
        File.WriteAllText(Path.Combine(folder, "hooks", "init.sh"), "#!/bin/sh\necho init\n");
        RetagImageArchive(Engines.ProbeArchive, Path.Combine(folder, "container.tar"), tag, uniqueImage);
        return folder;
    }

    /// <summary>The bundle folder as a .tar.gz, and its sha256 (the model hash of an HTTP bundle).</summary>
    public static (byte[] Archive, string ModelHash) Pack(string folder)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Fastest, leaveOpen: true))
            TarFile.CreateFromDirectory(folder, gzip, includeBaseDirectory: false);
        byte[] archive = output.ToArray();
        return (archive, "sha256:" + Convert.ToHexStringLower(SHA256.HashData(archive)));
    }

    /// <summary>Copies a docker-save archive with its repository tag replaced (and, when asked, a config of its own).</summary>
    public static void RetagImageArchive(string source, string destination, string tag, bool uniqueImage = false)
    {
        using FileStream input = File.OpenRead(source);
        using var reader = new TarReader(input);
        using FileStream output = File.Create(destination);
        using var writer = new TarWriter(output, TarEntryFormat.Pax);
        while (reader.GetNextEntry(copyData: true) is { } entry)
        {
            if (entry.Name is "manifest.json" or "repositories" && entry.DataStream is not null)
            {
                string text = new StreamReader(entry.DataStream).ReadToEnd()
                    .Replace("inframind-test/probe:1", tag, StringComparison.Ordinal)
                    .Replace("\"inframind-test/probe\":{\"1\"", $"\"{tag.Split(':')[0]}\":{{\"{tag.Split(':')[1]}\"", StringComparison.Ordinal);
                var rewritten = new PaxTarEntry(TarEntryType.RegularFile, entry.Name) { DataStream = new MemoryStream(Encoding.UTF8.GetBytes(text)) };
                writer.WriteEntry(rewritten);
                continue;
            }

            if (uniqueImage && entry.Name.EndsWith(".json", StringComparison.Ordinal) && !entry.Name.Contains('/', StringComparison.Ordinal) && entry.DataStream is not null)
            {
                // The image id is the digest of this config: a "comment" makes it new. Docker loads it by the
                // manifest's path, not by the name's digest.
                string config = new StreamReader(entry.DataStream).ReadToEnd();
                config = "{\"comment\":\"" + Guid.NewGuid().ToString("N") + "\"," + config[1..];
                writer.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, entry.Name) { DataStream = new MemoryStream(Encoding.UTF8.GetBytes(config)) });
                continue;
            }

            writer.WriteEntry(entry);
        }
    }
}
