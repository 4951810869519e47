using System.Formats.Tar;
using System.IO.Compression;

namespace InfraMind.Node.Models.Bundles;

/// <summary>
/// Unpacks a verified HTTP bundle (.tar or .tar.gz) into a folder. Only regular files and folders are
/// accepted: links, devices and paths that climb out (absolute, "..") are refused, since an archive is
/// data from outside even once its hash checks.
/// </summary>
public static class BundleArchive
{
    public static bool IsGzip(string path)
    {
        Span<byte> magic = stackalloc byte[2];
        using var file = File.OpenRead(path);
        return file.Read(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
    }

    /// <summary>Extracts into <paramref name="destination"/>; returns the bytes written. Throws <see cref="BundleFormatException"/>.</summary>
    public static long Extract(string archivePath, string destination, long maxBytes)
    {
        string root = Path.GetFullPath(destination) + Path.DirectorySeparatorChar;
        long total = 0;
        using FileStream file = File.OpenRead(archivePath);
        using Stream input = IsGzip(archivePath) ? new GZipStream(file, CompressionMode.Decompress) : file;
        try
        {
            using var reader = new TarReader(input);
            while (reader.GetNextEntry() is { } entry)
            {
                string name = entry.Name;
                while (name.StartsWith("./", StringComparison.Ordinal))
                    name = name[2..];
                if (name is "" or "." && entry.EntryType == TarEntryType.Directory)
                    continue;
                if (name.Length == 0 || name.StartsWith('/') || name.Contains('\\', StringComparison.Ordinal)
                    || name.Split('/').Any(part => part is ".." || part.Contains('\0', StringComparison.Ordinal)))
                    throw new BundleFormatException($"the bundle archive holds an unsafe path '{entry.Name}'");
                string target = Path.GetFullPath(Path.Combine(destination, name));
                if (!target.StartsWith(root, StringComparison.Ordinal))
                    throw new BundleFormatException($"the bundle archive holds a path outside the bundle: '{entry.Name}'");

                switch (entry.EntryType)
                {
                    case TarEntryType.Directory:
                        Directory.CreateDirectory(target);
                        break;
                    case TarEntryType.RegularFile or TarEntryType.V7RegularFile or TarEntryType.ContiguousFile:
                        total += entry.Length;
                        if (total > maxBytes)
                            throw new BundleFormatException($"the bundle archive unpacks to more than {maxBytes} bytes");
                        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                        using (FileStream output = File.Create(target))
                            entry.DataStream?.CopyTo(output);
                        break;
                    case TarEntryType.GlobalExtendedAttributes or TarEntryType.ExtendedAttributes:
                        break;
                    default:
                        throw new BundleFormatException($"the bundle archive holds a {entry.EntryType} entry '{entry.Name}'; only files and folders are allowed");
                }
            }
        }
        catch (Exception e) when (e is InvalidDataException or FormatException or EndOfStreamException)
        {
            throw new BundleFormatException($"the bundle archive is not a valid tar{(IsGzip(archivePath) ? ".gz" : string.Empty)}: {e.Message}", e);
        }

        return total;
    }
}

/// <summary>A bundle whose layout or content is not what CONTRACT.md §8 describes.</summary>
public sealed class BundleFormatException(string message, Exception? inner = null) : Exception(message, inner);
