using System.Text.Json;
using System.Text.Json.Serialization;

namespace InfraMind.Node.Models.Cache;

/// <summary>One cached bundle: its content address, size on disk, last use, pin, and the image it loaded as.</summary>
public sealed class CacheEntry
{
    /// <summary>The model hash the bundle was verified against (a CID or sha256:…): the cache key.</summary>
    public required string Key { get; init; }

    public long Bytes { get; set; }

    public long LastUsedUnixMs { get; set; }

    public bool Pinned { get; set; }

    /// <summary>The engine's image id ("sha256:…", the digest of the image config) recorded at load.</summary>
    public string? ImageId { get; set; }

    /// <summary>A name the image loaded under, e.g. "tiny-embedder:1.0.0".</summary>
    public string? ImageName { get; set; }

    public int Uses { get; set; }
}

/// <summary>Why the cache refused or failed.</summary>
public enum CacheError
{
    /// <summary>The bundle does not fit: not in the budget, or not on the filesystem, even after eviction.</summary>
    NoRoom,

    /// <summary>The cache folder cannot be written.</summary>
    Io,
}

public sealed class CacheException(CacheError error, string message, Exception? inner = null) : Exception(message, inner)
{
    public CacheError Error { get; } = error;
}

/// <summary>
/// The bundle cache on disk, keyed by content address: {root}/bundles/&lt;key&gt;/ holds a verified bundle,
/// {root}/index.json what is known about each (written to a temporary file, flushed and renamed, so a crash
/// never leaves half an index), {root}/staging/ bundles being fetched (same filesystem, so committing one is
/// a rename). A size budget is kept by evicting the least recently used unpinned bundles; a fetch is admitted
/// only when it fits both the budget and the free space of the cache's own filesystem.
/// </summary>
public sealed class BundleCache
{
    private readonly object _lock = new();
    private readonly Dictionary<string, CacheEntry> _entries = new(StringComparer.Ordinal);
    private readonly TimeProvider _clock;

    /// <summary>When the index was last written, and whether hits changed use times since.</summary>
    private DateTimeOffset _lastSave = DateTimeOffset.MinValue;
    private bool _touched;

    public BundleCache(string root, long budgetBytes, TimeProvider? clock = null)
    {
        Root = root;
        BudgetBytes = budgetBytes;
        _clock = clock ?? TimeProvider.System;
        try
        {
            Directory.CreateDirectory(BundlesFolder);
            Directory.CreateDirectory(StagingFolder);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CacheException(CacheError.Io, $"cannot create the cache folder {root}: {e.Message}; fix: set cache.dir to a writable folder", e);
        }

        LoadIndex();
        ClearStaging();
    }

    /// <summary>How stale the use times on disk may get before a hit writes the index (without fsync).</summary>
    public static TimeSpan TouchWriteInterval { get; } = TimeSpan.FromMinutes(1);

    public string Root { get; }

    public long BudgetBytes { get; }

    public long TotalBytes
    {
        get
        {
            lock (_lock)
                return _entries.Values.Sum(e => e.Bytes);
        }
    }

    private string BundlesFolder => Path.Combine(Root, "bundles");

    private string StagingFolder => Path.Combine(Root, "staging");

    private string IndexPath => Path.Combine(Root, "index.json");

    public IReadOnlyList<CacheEntry> List()
    {
        lock (_lock)
            return [.. _entries.Values.OrderByDescending(e => e.LastUsedUnixMs)];
    }

    /// <summary>
    /// The folder of a cached bundle, or null; a hit counts as a use (for LRU). The touch is cheap: it is kept in
    /// memory and written with the next structural change (commit, pin, prune, remove, image record), or by a hit
    /// at least <see cref="TouchWriteInterval"/> after the last write (without fsync), or by <see cref="Flush"/>.
    /// A crash loses at most that long of use times, which only shifts eviction order; never a bundle.
    /// </summary>
    public string? TryGet(string key, out CacheEntry? entry)
    {
        lock (_lock)
        {
            if (!_entries.TryGetValue(key, out entry) || !Directory.Exists(FolderOf(key)))
            {
                entry = null;
                return null;
            }

            DateTimeOffset now = _clock.GetUtcNow();
            entry.LastUsedUnixMs = now.ToUnixTimeMilliseconds();
            entry.Uses++;
            _touched = true;
            if (now - _lastSave >= TouchWriteInterval)
                SaveIndex(durable: false);
            return FolderOf(key);
        }
    }

    /// <summary>Writes use times that hits have not written yet (e.g. at shutdown); a no-op when there are none.</summary>
    public void Flush()
    {
        lock (_lock)
        {
            if (_touched)
                SaveIndex(durable: true);
        }
    }

    /// <summary>
    /// Admission before a fetch starts: makes room for <paramref name="incomingBytes"/> by evicting least
    /// recently used unpinned bundles, and refuses when it cannot fit in the budget or on the filesystem.
    /// </summary>
    public void Reserve(long incomingBytes)
    {
        lock (_lock)
        {
            if (incomingBytes > BudgetBytes)
                throw new CacheException(CacheError.NoRoom, $"the bundle ({incomingBytes} bytes) is larger than the whole cache budget ({BudgetBytes} bytes); fix: raise cache.max_bytes");
            EvictUntil(BudgetBytes - incomingBytes, keep: null);
            if (TotalBytes + incomingBytes > BudgetBytes)
                throw new CacheException(CacheError.NoRoom, $"the bundle ({incomingBytes} bytes) does not fit the cache budget: {TotalBytes} bytes are pinned or in use; fix: unpin bundles or raise cache.max_bytes");

            long free = FreeBytes();
            if (free < incomingBytes)
                throw new CacheException(CacheError.NoRoom, $"the bundle ({incomingBytes} bytes) does not fit on the cache's filesystem ({free} bytes free at {Root}); fix: free disk space or move cache.dir");
        }
    }

    /// <summary>A fresh staging folder for a bundle being fetched; committed by <see cref="Commit"/>.</summary>
    public string CreateStaging()
    {
        string folder = Path.Combine(StagingFolder, Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        return folder;
    }

    /// <summary>
    /// Moves a verified bundle from staging into the cache under <paramref name="key"/> (one rename), records it,
    /// then evicts least recently used unpinned bundles until the cache is within its budget again.
    /// </summary>
    public CacheEntry Commit(string key, string stagingFolder)
    {
        long bytes = SizeOf(stagingFolder);
        lock (_lock)
        {
            string target = FolderOf(key);
            if (Directory.Exists(target))
                Directory.Delete(target, recursive: true);
            Directory.Move(stagingFolder, target);
            var entry = new CacheEntry { Key = key, Bytes = bytes, LastUsedUnixMs = _clock.GetUtcNow().ToUnixTimeMilliseconds(), Uses = 1 };
            _entries[key] = entry;
            EvictUntil(BudgetBytes, keep: key);
            SaveIndex();
            return entry;
        }
    }

    public void RecordImage(string key, string imageId, string? imageName)
    {
        lock (_lock)
        {
            if (!_entries.TryGetValue(key, out CacheEntry? entry))
                return;
            entry.ImageId = imageId;
            entry.ImageName = imageName;
            SaveIndex();
        }
    }

    public bool Pin(string key, bool pinned)
    {
        lock (_lock)
        {
            if (!_entries.TryGetValue(key, out CacheEntry? entry))
                return false;
            entry.Pinned = pinned;
            SaveIndex();
            return true;
        }
    }

    /// <summary>Evicts least recently used unpinned bundles until at most <paramref name="targetBytes"/> remain.</summary>
    public IReadOnlyList<CacheEntry> Prune(long targetBytes)
    {
        lock (_lock)
        {
            IReadOnlyList<CacheEntry> evicted = EvictUntil(targetBytes, keep: null);
            SaveIndex();
            return evicted;
        }
    }

    public bool Remove(string key)
    {
        lock (_lock)
        {
            if (!_entries.Remove(key))
                return false;
            DeleteFolder(FolderOf(key));
            SaveIndex();
            return true;
        }
    }

    private List<CacheEntry> EvictUntil(long targetBytes, string? keep)
    {
        var evicted = new List<CacheEntry>();
        foreach (CacheEntry victim in _entries.Values.Where(e => !e.Pinned && e.Key != keep).OrderBy(e => e.LastUsedUnixMs).ToList())
        {
            if (_entries.Values.Sum(e => e.Bytes) <= targetBytes)
                break;
            _entries.Remove(victim.Key);
            DeleteFolder(FolderOf(victim.Key));
            evicted.Add(victim);
        }

        return evicted;
    }

    /// <summary>The folder a bundle lives in once committed.</summary>
    public string FolderOf(string key) => Path.Combine(BundlesFolder, key.Replace(':', '-'));

    public long FreeBytes()
    {
        try
        {
            return new DriveInfo(Root).AvailableFreeSpace;
        }
        catch (Exception e) when (e is IOException or ArgumentException or UnauthorizedAccessException)
        {
            throw new CacheException(CacheError.Io, $"cannot measure free space at {Root}: {e.Message}", e);
        }
    }

    private static long SizeOf(string folder) =>
        new DirectoryInfo(folder).EnumerateFiles("*", SearchOption.AllDirectories).Sum(f => f.Length);

    private static void DeleteFolder(string folder)
    {
        try
        {
            if (Directory.Exists(folder))
                Directory.Delete(folder, recursive: true);
        }
        catch (IOException)
        {
            // A folder held open is left; the next start's index rebuild notices it.
        }
    }

    private void ClearStaging()
    {
        foreach (string leftover in Directory.EnumerateDirectories(StagingFolder))
            DeleteFolder(leftover); // fetches a crash interrupted: never verified, never used
    }

    private void LoadIndex()
    {
        if (File.Exists(IndexPath))
        {
            try
            {
                CacheIndex? index = JsonSerializer.Deserialize(File.ReadAllBytes(IndexPath), CacheJson.Default.CacheIndex);
                foreach (CacheEntry entry in index?.Entries ?? [])
                {
                    if (Directory.Exists(FolderOf(entry.Key)))
                        _entries[entry.Key] = entry;
                }

                return;
            }
            catch (JsonException)
            {
                File.Move(IndexPath, IndexPath + $".corrupt-{_clock.GetUtcNow().ToUnixTimeSeconds()}", overwrite: true);
            }
        }

        // No index (or a corrupt one): every bundle folder was verified before it was committed, so adopt them.
        foreach (string folder in Directory.EnumerateDirectories(BundlesFolder))
        {
            string key = Path.GetFileName(folder);
            key = key.StartsWith("sha256-", StringComparison.Ordinal) ? "sha256:" + key[7..] : key;
            _entries[key] = new CacheEntry { Key = key, Bytes = SizeOf(folder), LastUsedUnixMs = 0 };
        }

        SaveIndex();
    }

    /// <summary>
    /// Writes the whole index to a temporary file and renames it over the old one. <paramref name="durable"/>: fsync
    /// first, for structural changes (a crash must never leave an index naming a bundle that is gone or missing one
    /// that is there); use times alone can skip it (the rename still keeps the index whole).
    /// </summary>
    private void SaveIndex(bool durable = true)
    {
        string temporary = IndexPath + ".tmp";
        try
        {
            byte[] json = JsonSerializer.SerializeToUtf8Bytes(new CacheIndex { Entries = [.. _entries.Values] }, CacheJson.Default.CacheIndex);
            using (var file = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None))
            {
                file.Write(json);
                file.Flush(flushToDisk: durable);
            }

            File.Move(temporary, IndexPath, overwrite: true);
            _lastSave = _clock.GetUtcNow();
            _touched = false;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CacheException(CacheError.Io, $"cannot write the cache index {IndexPath}: {e.Message}", e);
        }
    }
}

public sealed class CacheIndex
{
    public int Version { get; set; } = 1;

    public List<CacheEntry> Entries { get; set; } = [];
}

[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(CacheIndex))]
internal sealed partial class CacheJson : JsonSerializerContext;
