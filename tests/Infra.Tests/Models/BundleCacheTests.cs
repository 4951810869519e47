using InfraMind.Node.Models.Cache;
using InfraMind.Node.Tests.Support;

namespace InfraMind.Node.Tests.Models;

public class BundleCacheTests
{
    private sealed class ManualClock : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = DateTimeOffset.FromUnixTimeSeconds(1_800_000_000);

        public override DateTimeOffset GetUtcNow() => Now;
    }

    [Fact]
    public void A_committed_bundle_is_found_again_and_survives_a_restart()
    {
        using var temp = new TempFolder();
        var cache = new BundleCache(temp["cache"], 1 << 20);
        Commit(cache, "QmA", 1000);
        cache.RecordImage("QmA", "sha256:abc", "model:1");

        var restarted = new BundleCache(temp["cache"], 1 << 20);
        string? folder = restarted.TryGet("QmA", out CacheEntry? entry);
        Assert.NotNull(folder);
        Assert.Equal(1000, entry!.Bytes);
        Assert.Equal("sha256:abc", entry.ImageId);
        Assert.True(File.Exists(Path.Combine(folder, "payload")));
        Assert.Null(restarted.TryGet("QmMissing", out _));
    }

    [Fact]
    public void Over_budget_the_least_recently_used_unpinned_bundle_goes()
    {
        using var temp = new TempFolder();
        var clock = new ManualClock();
        var cache = new BundleCache(temp["cache"], 3000, clock);
        Commit(cache, "QmOld", 1000);
        clock.Now += TimeSpan.FromMinutes(1);
        Commit(cache, "QmPinned", 1000);
        cache.Pin("QmPinned", true);
        clock.Now += TimeSpan.FromMinutes(1);
        Commit(cache, "QmUsed", 1000);
        clock.Now += TimeSpan.FromMinutes(1);
        Assert.NotNull(cache.TryGet("QmOld", out _)); // used again: now the most recent
        clock.Now += TimeSpan.FromMinutes(1);

        Commit(cache, "QmNew", 1000);
        Assert.Equal(["QmNew", "QmOld", "QmPinned"], cache.List().Select(e => e.Key).Order(StringComparer.Ordinal));
        Assert.True(cache.TotalBytes <= 3000);
        Assert.False(Directory.Exists(temp["cache/bundles/QmUsed"]));
    }

    [Fact]
    public void A_bundle_that_cannot_fit_is_refused_before_any_fetch()
    {
        using var temp = new TempFolder();
        var cache = new BundleCache(temp["cache"], 2000);
        Commit(cache, "QmPinned", 1500);
        cache.Pin("QmPinned", true);

        Assert.Equal(CacheError.NoRoom, Assert.Throws<CacheException>(() => cache.Reserve(5000)).Error);
        Assert.Equal(CacheError.NoRoom, Assert.Throws<CacheException>(() => cache.Reserve(1000)).Error);
        cache.Reserve(400);

        var huge = new BundleCache(temp["huge"], long.MaxValue);
        var noDisk = Assert.Throws<CacheException>(() => huge.Reserve(long.MaxValue / 2));
        Assert.Contains("filesystem", noDisk.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Pruning_keeps_pinned_bundles_and_the_index_stays_consistent()
    {
        using var temp = new TempFolder();
        var cache = new BundleCache(temp["cache"], 10_000);
        Commit(cache, "QmA", 1000);
        Commit(cache, "sha256:" + new string('b', 64), 1000);
        cache.Pin("QmA", true);
        IReadOnlyList<CacheEntry> evicted = cache.Prune(0);
        Assert.Equal("sha256:" + new string('b', 64), Assert.Single(evicted).Key);
        Assert.Equal("QmA", Assert.Single(new BundleCache(temp["cache"], 10_000).List()).Key);
    }

    [Fact]
    public void A_corrupt_index_is_set_aside_and_the_bundles_are_adopted()
    {
        using var temp = new TempFolder();
        var cache = new BundleCache(temp["cache"], 10_000);
        Commit(cache, "QmA", 700);
        File.WriteAllText(temp["cache/index.json"], "{ not json");

        var reopened = new BundleCache(temp["cache"], 10_000);
        Assert.Equal(700, Assert.Single(reopened.List()).Bytes);
        Assert.Single(Directory.GetFiles(temp["cache"], "index.json.corrupt-*"));
    }

    [Fact]
    public void Staging_left_by_a_crash_is_cleared_and_never_cached()
    {
        using var temp = new TempFolder();
        var cache = new BundleCache(temp["cache"], 10_000);
        string staging = cache.CreateStaging();
        File.WriteAllText(Path.Combine(staging, "half"), "half a download");

        var reopened = new BundleCache(temp["cache"], 10_000);
        Assert.Empty(Directory.GetDirectories(temp["cache/staging"]));
        Assert.Empty(reopened.List());
    }

    private static void Commit(BundleCache cache, string key, int bytes)
    {
        string staging = cache.CreateStaging();
        File.WriteAllBytes(Path.Combine(staging, "payload"), new byte[bytes]);
        cache.Commit(key, staging);
    }
}

public class BundleCacheTouchTests
{
    private sealed class ManualClock : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = DateTimeOffset.FromUnixTimeSeconds(1_800_000_000);

        public override DateTimeOffset GetUtcNow() => Now;
    }

    [Fact]
    public void A_hit_does_not_rewrite_the_index_until_the_interval_or_a_structural_change()
    {
        using var temp = new TempFolder();
        var clock = new ManualClock();
        var cache = new BundleCache(temp["cache"], 1 << 20, clock);
        Commit(cache, "QmA", 100);
        Commit(cache, "QmB", 100);
        byte[] before = File.ReadAllBytes(temp["cache/index.json"]);

        clock.Now += TimeSpan.FromSeconds(5);
        Assert.NotNull(cache.TryGet("QmA", out CacheEntry? entry));
        Assert.Equal(2, entry!.Uses);
        Assert.Equal(before, File.ReadAllBytes(temp["cache/index.json"])); // the touch stays in memory

        clock.Now += BundleCache.TouchWriteInterval;
        Assert.NotNull(cache.TryGet("QmA", out _));
        Assert.Equal(3, UsesOnDisk(temp, "QmA")); // stale enough: this hit wrote it

        Assert.NotNull(cache.TryGet("QmA", out _));
        Assert.Equal(3, UsesOnDisk(temp, "QmA"));
        cache.Pin("QmB", true); // a structural change carries the pending touch with it
        Assert.Equal(4, UsesOnDisk(temp, "QmA"));
    }

    [Fact]
    public void Flushed_use_times_survive_a_restart_and_steer_eviction()
    {
        using var temp = new TempFolder();
        var clock = new ManualClock();
        var cache = new BundleCache(temp["cache"], 2500, clock);
        Commit(cache, "QmOld", 1000);
        clock.Now += TimeSpan.FromSeconds(1);
        Commit(cache, "QmNew", 1000);
        clock.Now += TimeSpan.FromSeconds(1);
        Assert.NotNull(cache.TryGet("QmOld", out _)); // now the most recently used, in memory only
        cache.Flush();

        var restarted = new BundleCache(temp["cache"], 2500, clock);
        clock.Now += TimeSpan.FromSeconds(1);
        Commit(restarted, "QmThird", 1000);
        Assert.Equal(["QmOld", "QmThird"], restarted.List().Select(e => e.Key).Order(StringComparer.Ordinal));
    }

    private static int UsesOnDisk(TempFolder temp, string key)
    {
        using var json = System.Text.Json.JsonDocument.Parse(File.ReadAllBytes(temp["cache/index.json"]));
        return json.RootElement.GetProperty("entries").EnumerateArray().Single(e => e.GetProperty("key").GetString() == key).GetProperty("uses").GetInt32();
    }

    private static void Commit(BundleCache cache, string key, int bytes)
    {
        string staging = cache.CreateStaging();
        File.WriteAllBytes(Path.Combine(staging, "payload"), new byte[bytes]);
        cache.Commit(key, staging);
    }
}
