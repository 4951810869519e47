using System.Globalization;
using System.Text.Json;
using InfraMind.Node.Configuration;
using InfraMind.Node.Models.Cache;

namespace InfraMind.Node.Doctor;

/// <summary>
/// Room for the bundle cache: the cache may grow to cache.max_bytes, so the filesystem needs the budget less what the
/// cache already holds. Short of that the cache still works (it admits a fetch only when it fits the free space), so
/// it warns; it fails only when the disk cannot take even <see cref="MinimumFreeBytes"/> more.
/// </summary>
public static class CacheDiskCheck
{
    /// <summary>Below this a typical model image cannot be fetched and loaded at all.</summary>
    public const long MinimumFreeBytes = 1L << 30;

    /// <summary>The cache index is a list of entries; anything larger than this is not the node's.</summary>
    public const int MaxIndexBytes = 16 << 20;

    private const string Name = "cache disk";

    public static CheckResult Run(string cacheDir, long budget)
    {
        string? existing = HostChecks.NearestExisting(cacheDir);
        if (existing is null)
            return CheckResult.Failed(Name, $"{cacheDir} has no existing parent folder", "set cache.dir to a path on a mounted filesystem");

        long free;
        try
        {
            free = new DriveInfo(existing).AvailableFreeSpace;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return CheckResult.Failed(Name, $"cannot measure free space at {existing}: {e.Message}", "set cache.dir to a readable, mounted folder");
        }

        (long used, string? note) = CachedBytes(cacheDir);
        return Judge(cacheDir, free, used, budget, note);
    }

    /// <summary>The verdict for <paramref name="free"/> bytes free with <paramref name="used"/> already cached against <paramref name="budget"/>.</summary>
    public static CheckResult Judge(string cacheDir, long free, long used, long budget, string? note = null)
    {
        long needed = Math.Max(0, budget - used);
        string summary = $"{cacheDir}: {Mib(free)} free, {Mib(used)} cached, budget {ByteSize.Format(budget)}{(note is null ? string.Empty : $" ({note})")}";
        if (free < MinimumFreeBytes && free < needed)
        {
            return CheckResult.Failed(Name, $"{summary}: under {ByteSize.Format(MinimumFreeBytes)} free, too little for a model",
                "free space on that filesystem, or set cache.dir to a larger one");
        }

        if (free < needed)
        {
            return CheckResult.Warning(Name, $"{summary}: the cache cannot grow to its budget ({Mib(needed)} more needed)",
                $"free space on that filesystem, or lower cache.max_bytes to at most {Mib(used + free)}");
        }

        return CheckResult.Ok(Name, summary);
    }

    /// <summary>What the cache already holds, from its index (read only: the running agent may own the cache).</summary>
    internal static (long Used, string? Note) CachedBytes(string cacheDir)
    {
        string index = Path.Combine(cacheDir, "index.json");
        try
        {
            if (!File.Exists(index))
                return (0, null);
            using var stream = new FileStream(index, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, bufferSize: 0);
            if (stream.Length > MaxIndexBytes)
                return (0, $"index {index} is over {MaxIndexBytes >> 20} MiB, not counted");
            byte[] bytes = new byte[(int)stream.Length];
            stream.ReadExactly(bytes);
            CacheIndex? parsed = JsonSerializer.Deserialize(bytes, CacheJson.Default.CacheIndex);
            long used = 0;
            foreach (CacheEntry entry in parsed?.Entries ?? [])
            {
                if (entry.Bytes < 0 || entry.Bytes > long.MaxValue - used)
                    return (0, $"index {index} has impossible sizes, not counted");
                used += entry.Bytes;
            }

            return (used, null);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException)
        {
            return (0, $"index {index} unreadable, not counted");
        }
    }

    /// <summary>Disk figures for people: "75.1 GiB", "512 MiB".</summary>
    internal static string Mib(long bytes) => bytes >= 1L << 30
        ? string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)(1L << 30):0.0} GiB")
        : string.Create(CultureInfo.InvariantCulture, $"{bytes >> 20} MiB");
}
