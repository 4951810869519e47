using System.Collections.Concurrent;
using System.Diagnostics;
using InfraMind.Node.Containers.Engine;
using InfraMind.Node.Crypto;
using InfraMind.Node.Models.Bundles;
using InfraMind.Node.Models.Cache;
using InfraMind.Node.Models.Content;
using InfraMind.Node.Models.Fetch;

namespace InfraMind.Node.Models;

/// <summary>Where the prepare phase is.</summary>
public enum PreparePhase
{
    CacheLookup,
    Fetching,
    Unpacking,
    Loading,
    Ready,
}

/// <summary>Progress of a prepare: phase, bytes so far (of how many, when known), blocks verified, rate.</summary>
public readonly record struct PrepareProgress(PreparePhase Phase, long Bytes, long? TotalBytes, long Blocks, double BytesPerSecond);

/// <summary>A model ready to run: its verified bundle, its manifest, its image in the engine.</summary>
public sealed record PreparedModel(string Key, ValidatedBundle Bundle, LoadedImage Image, bool CacheHit, TimeSpan Elapsed);

/// <summary>
/// The prepare phase of a job (fetch, verify, load), separate from execution with its own timeout and
/// progress. A cache hit costs no network and no re-hash (the bundle was verified before it was committed):
/// the engine's image id recorded at load is confirmed with one inspect, and then remembered for
/// <see cref="ReconfirmAfter"/> with the parsed model.yaml, so a warm model's next job pays neither the
/// inspect nor the parse (together most of a warm rest job's overhead, measured with bench/jobs.sh).
/// </summary>
public sealed class ModelPreparer(BundleCache cache, EngineClient engine, HttpBundleFetcher http, IpfsGatewayFetcher? ipfs, long maxBundleBytes)
{
    private readonly ConcurrentDictionary<string, Confirmed> _confirmed = new(StringComparer.Ordinal);

    /// <summary>
    /// How long a confirmed image is trusted without asking the engine again. An image removed behind the node's
    /// back within that time fails its job's container create; the pipeline then calls <see cref="ForgetConfirmed"/>.
    /// </summary>
    public TimeSpan ReconfirmAfter { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Drops every remembered confirmation, so the next job of each model inspects its image again.</summary>
    public void ForgetConfirmed() => _confirmed.Clear();

    /// <summary>
    /// The model when it was confirmed less than <see cref="ReconfirmAfter"/> ago and the cache still holds the same
    /// bundle and image: no engine call, no file read, no wait. False sends the caller to <see cref="PrepareAsync"/>.
    /// </summary>
    public bool TryGetConfirmed(string modelHash, out PreparedModel? model)
    {
        model = null;
        if (!ContentAddress.TryParse(modelHash, out ContentAddress? address, out _))
            return false;
        string key = address!.ToString();
        // Asked before the cache, whose lookup counts as a use of the bundle.
        if (!_confirmed.ContainsKey(key) || cache.TryGet(key, out CacheEntry? entry) is not { } cached || !IsConfirmed(key, cached, entry!, out Confirmed? known))
            return false;
        model = new PreparedModel(key, known!.Bundle, known.Image, CacheHit: true, TimeSpan.Zero);
        return true;
    }

    /// <summary>Whether the cached bundle in <paramref name="folder"/> and its image are the ones confirmed, recently enough.</summary>
    private bool IsConfirmed(string key, string folder, CacheEntry entry, out Confirmed? known) =>
        _confirmed.TryGetValue(key, out known) && known.Folder == folder && known.Image.ImageId == entry.ImageId
        && Stopwatch.GetElapsedTime(known.At) < ReconfirmAfter;

    public async Task<PreparedModel> PrepareAsync(string modelHash, IReadOnlyList<Uri> sources, IProgress<PrepareProgress>? progress, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        if (!ContentAddress.TryParse(modelHash, out ContentAddress? address, out string error))
            throw new FetchException($"model_hash '{modelHash}' is not a content address: {error}");
        string key = address!.ToString();

        progress?.Report(new PrepareProgress(PreparePhase.CacheLookup, 0, null, 0, 0));
        if (cache.TryGet(key, out CacheEntry? entry) is { } cached)
        {
            if (IsConfirmed(key, cached, entry!, out Confirmed? known))
            {
                progress?.Report(new PrepareProgress(PreparePhase.Ready, 0, null, 0, 0));
                return new PreparedModel(key, known!.Bundle, known.Image, CacheHit: true, clock.Elapsed);
            }

            ValidatedBundle bundle = BundleLayout.Validate(cached, checkImageArchive: false);
            LoadedImage image = await EnsureLoadedAsync(key, entry!, bundle, progress, cancellationToken).ConfigureAwait(false);
            _confirmed[key] = new Confirmed(cached, bundle, image, Stopwatch.GetTimestamp());
            progress?.Report(new PrepareProgress(PreparePhase.Ready, 0, null, 0, 0));
            return new PreparedModel(key, bundle, image, CacheHit: true, clock.Elapsed);
        }

        string staging = cache.CreateStaging();
        try
        {
            string bundleFolder = Path.Combine(staging, "bundle");
            await FetchAsync(address, sources, staging, bundleFolder, progress, clock, cancellationToken).ConfigureAwait(false);
            ValidatedBundle validated = BundleLayout.Validate(bundleFolder);
            string relative = Path.GetRelativePath(staging, validated.Folder);
            cache.Commit(key, staging);
            string committed = Path.Combine(cache.FolderOf(key), relative);
            ValidatedBundle bundle = validated with { Folder = committed, ImageArchive = Path.Combine(committed, Path.GetFileName(validated.ImageArchive)) };

            progress?.Report(new PrepareProgress(PreparePhase.Loading, 0, null, 0, 0));
            LoadedImage image = await ImageLoader.LoadAsync(engine, bundle.ImageArchive, null, cancellationToken).ConfigureAwait(false);
            cache.RecordImage(key, image.ImageId, image.Name);
            _confirmed[key] = new Confirmed(cache.FolderOf(key), bundle, image, Stopwatch.GetTimestamp());
            progress?.Report(new PrepareProgress(PreparePhase.Ready, 0, null, 0, 0));
            return new PreparedModel(key, bundle, image, CacheHit: false, clock.Elapsed);
        }
        finally
        {
            if (Directory.Exists(staging))
                Directory.Delete(staging, recursive: true);
        }
    }

    private async Task FetchAsync(ContentAddress address, IReadOnlyList<Uri> sources, string staging, string bundleFolder, IProgress<PrepareProgress>? progress, Stopwatch clock, CancellationToken cancellationToken)
    {
        var fetchProgress = new Progress<FetchProgress>(p =>
            progress?.Report(new PrepareProgress(PreparePhase.Fetching, p.Bytes, p.TotalBytes, p.Blocks, p.Bytes / Math.Max(clock.Elapsed.TotalSeconds, 1e-3))));
        if (!address.IsCid)
        {
            List<Uri> httpSources = sources.Where(s => s.Scheme is "http" or "https").ToList();
            if (httpSources.Count == 0)
                throw new FetchException($"model {address} is a sha256 address, so it needs an http(s) container_uri");
            string download = Path.Combine(staging, "download");
            await http.FetchAsync(httpSources, address.Sha256, download, maxBundleBytes, announced => cache.Reserve(announced ?? 0), fetchProgress, cancellationToken).ConfigureAwait(false);
            progress?.Report(new PrepareProgress(PreparePhase.Unpacking, 0, null, 0, 0));
            Directory.CreateDirectory(bundleFolder);
            BundleArchive.Extract(download, bundleFolder, maxBundleBytes);
            File.Delete(download);
            return;
        }

        if (ipfs is null)
            throw new FetchException($"model {address} is an IPFS CID, but no trustless gateway is configured (registry.ipfs_gateways)");
        await ipfs.FetchAsync(address.Cid!, bundleFolder, maxBundleBytes, fetchProgress, cancellationToken, announced => cache.Reserve(announced ?? 0)).ConfigureAwait(false);
    }

    /// <summary>
    /// A cache hit: the image id recorded at load is confirmed with one inspect. Only when the engine no longer
    /// has it (pruned, another engine) is the cached archive loaded again, still without re-hashing it.
    /// </summary>
    private async Task<LoadedImage> EnsureLoadedAsync(string key, CacheEntry entry, ValidatedBundle bundle, IProgress<PrepareProgress>? progress, CancellationToken cancellationToken)
    {
        if (entry.ImageId is { } id && await engine.InspectImageAsync(id, cancellationToken).ConfigureAwait(false) is not null)
            return new LoadedImage(id, entry.ImageName);

        progress?.Report(new PrepareProgress(PreparePhase.Loading, 0, null, 0, 0));
        LoadedImage image = await ImageLoader.LoadAsync(engine, bundle.ImageArchive, null, cancellationToken).ConfigureAwait(false);
        cache.RecordImage(key, image.ImageId, image.Name);
        return image;
    }

    /// <summary>A cache hit whose image the engine confirmed at <see cref="At"/> (a Stopwatch timestamp).</summary>
    private sealed record Confirmed(string Folder, ValidatedBundle Bundle, LoadedImage Image, long At);
}
