using System.Text.Json;
using InfraMind.Node.Containers.Engine;
using InfraMind.Node.Models;
using InfraMind.Node.Models.Cache;
using InfraMind.Node.Models.Content;
using InfraMind.Node.Models.Fetch;
using InfraMind.Node.Tests.Configuration;
using InfraMind.Node.Tests.Support;

namespace InfraMind.Node.Tests.Models;

/// <summary>
/// The prepare phase end to end: bundles served by a real HTTP server on loopback (mirrors and trustless
/// gateways), verified, cached on disk and loaded into the real engines.
/// </summary>
public sealed class ModelPreparerTests : IDisposable
{
    private const long Budget = 256L << 20;
    private readonly TempFolder _temp = new();
    private readonly LocalHttpServer _server = new();
    private readonly HttpClient _http = new();

    public void Dispose()
    {
        _http.Dispose();
        _server.Dispose();
        _temp.Dispose();
    }

    [Theory]
    [MemberData(nameof(Engines.Both), MemberType = typeof(Engines))]
    public async Task An_http_bundle_is_verified_cached_loaded_and_then_a_cache_hit(string engine)
    {
        await using EngineClient client = await Engines.ConnectAsync(engine);
        string tag = $"inframind-test/bundle-{Guid.NewGuid():N}:1";
        (byte[] archive, string modelHash) = TestBundles.Pack(TestBundles.CreateFolder(_temp, tag));
        Uri broken = _server.Serve("/mirror-a/bundle.tar.gz", new LocalHttpServer.Answer([], Status: 503));
        Uri good = _server.Serve("/mirror-b/bundle.tar.gz", new LocalHttpServer.Answer(archive));
        var phases = new List<PreparePhase>();

        PreparedModel first = await Preparer(client).PrepareAsync(modelHash, [broken, good], new SyncProgress<PrepareProgress>(p => phases.Add(p.Phase)), CancellationToken.None);
        try
        {
            Assert.False(first.CacheHit);
            Assert.Equal("probe-echo", first.Bundle.Manifest.Name);
            Assert.Equal(["init.sh"], first.Bundle.Hooks);
            ImageInspectResponse? image = await client.InspectImageAsync(first.Image.ImageId, CancellationToken.None);
            Assert.NotNull(image);
            Assert.StartsWith("sha256:", first.Image.ImageId, StringComparison.Ordinal);
            Assert.Contains(PreparePhase.Fetching, phases);
            Assert.Contains(PreparePhase.Loading, phases);
            Assert.Equal(PreparePhase.Ready, phases[^1]);
            Assert.Equal(1, _server.RequestsFor("/mirror-b/bundle.tar.gz"));

            // No re-hash on a hit: the cached archive is not even read (garbage in it changes nothing).
            await File.WriteAllTextAsync(first.Bundle.ImageArchive, "garbage that would fail any hash");
            int requests = _server.TotalRequests;
            PreparedModel second = await Preparer(client).PrepareAsync(modelHash, [broken, good], null, CancellationToken.None);
            Assert.True(second.CacheHit);
            Assert.Equal(first.Image.ImageId, second.Image.ImageId);
            Assert.Equal(requests, _server.TotalRequests);
        }
        finally
        {
            await RemoveImageAsync(client, tag);
        }
    }

    [Fact]
    public async Task A_confirmed_image_is_trusted_for_a_while_and_reloaded_from_the_cache_once_forgotten()
    {
        await using EngineClient client = await Engines.ConnectAsync("docker");
        string tag = $"inframind-test/bundle-{Guid.NewGuid():N}:1";
        (byte[] archive, string modelHash) = TestBundles.Pack(TestBundles.CreateFolder(_temp, tag, uniqueImage: true));
        Uri source = _server.Serve("/own-image.tar.gz", new LocalHttpServer.Answer(archive));
        ModelPreparer preparer = Preparer(client);
        try
        {
            Assert.False(preparer.TryGetConfirmed(modelHash, out _)); // never prepared
            PreparedModel first = await preparer.PrepareAsync(modelHash, [source], null, CancellationToken.None);
            Assert.False(first.CacheHit);
            Assert.True(preparer.TryGetConfirmed(modelHash, out PreparedModel? fast));
            Assert.True(fast!.CacheHit);
            Assert.Same(first.Bundle, fast.Bundle);
            Assert.False(preparer.TryGetConfirmed("sha256:not-hex", out _));
            await RemoveImageAsync(client, tag);
            Assert.Null(await client.InspectImageAsync(first.Image.ImageId, CancellationToken.None));

            // Within ReconfirmAfter a hit asks the engine nothing and parses no model.yaml: it cannot notice the
            // image is gone (a job's create would, and the pipeline then forgets, as below).
            PreparedModel remembered = await preparer.PrepareAsync(modelHash, [source], null, CancellationToken.None);
            Assert.True(remembered.CacheHit);
            Assert.Same(first.Bundle, remembered.Bundle);
            Assert.Null(await client.InspectImageAsync(first.Image.ImageId, CancellationToken.None));

            // Forgotten: the next hit inspects, finds the image gone and loads it again from the cache, with no fetch.
            preparer.ForgetConfirmed();
            Assert.False(preparer.TryGetConfirmed(modelHash, out _));
            PreparedModel reloaded = await preparer.PrepareAsync(modelHash, [source], null, CancellationToken.None);
            Assert.True(reloaded.CacheHit);
            Assert.Equal(first.Image.ImageId, reloaded.Image.ImageId);
            Assert.NotNull(await client.InspectImageAsync(first.Image.ImageId, CancellationToken.None));

            // With no grace at all every hit inspects, so a removal is noticed by the very next prepare.
            await RemoveImageAsync(client, tag);
            var strict = new ModelPreparer(new BundleCache(_temp["cache"], Budget), client, new HttpBundleFetcher(_http), null, Budget) { ReconfirmAfter = TimeSpan.Zero };
            await strict.PrepareAsync(modelHash, [source], null, CancellationToken.None);
            Assert.False(strict.TryGetConfirmed(modelHash, out _)); // no grace, no fast path
            Assert.NotNull(await client.InspectImageAsync(first.Image.ImageId, CancellationToken.None));
            PreparedModel strictAgain = await strict.PrepareAsync(modelHash, [source], null, CancellationToken.None);
            Assert.NotSame(first.Bundle, strictAgain.Bundle);
            Assert.Equal(1, _server.RequestsFor("/own-image.tar.gz"));
        }
        finally
        {
            await RemoveImageAsync(client, tag);
        }
    }

    [Fact]
    public async Task A_restarted_agent_keeps_its_cache()
    {
        await using EngineClient client = await Engines.ConnectAsync("docker");
        string tag = $"inframind-test/bundle-{Guid.NewGuid():N}:1";
        (byte[] archive, string modelHash) = TestBundles.Pack(TestBundles.CreateFolder(_temp, tag));
        Uri source = _server.Serve("/b.tar.gz", new LocalHttpServer.Answer(archive));
        PreparedModel first = await Preparer(client).PrepareAsync(modelHash, [source], null, CancellationToken.None);
        try
        {
            // A new cache object over the same folder is what a restarted agent opens.
            PreparedModel again = await Preparer(client).PrepareAsync(modelHash, [source], null, CancellationToken.None);
            Assert.True(again.CacheHit);
            Assert.Equal(1, _server.RequestsFor("/b.tar.gz"));
        }
        finally
        {
            await RemoveImageAsync(client, tag);
        }
    }

    [Theory]
    [InlineData("corrupt")]
    [InlineData("truncated")]
    [InlineData("wrong-hash")]
    public async Task A_bad_download_reaches_neither_the_cache_nor_the_engine(string how)
    {
        await using EngineClient client = await Engines.ConnectAsync("docker");
        string tag = $"inframind-test/bundle-{Guid.NewGuid():N}:1";
        (byte[] archive, string modelHash) = TestBundles.Pack(TestBundles.CreateFolder(_temp, tag));
        byte[] served = (byte[])archive.Clone();
        LocalHttpServer.Answer answer = how switch
        {
            "corrupt" => new LocalHttpServer.Answer(Flip(served, served.Length / 2)),
            "truncated" => new LocalHttpServer.Answer(served[..(served.Length / 2)], DeclaredLength: served.Length),
            _ => new LocalHttpServer.Answer(served),
        };
        if (how == "wrong-hash")
            modelHash = "sha256:" + new string('0', 64);
        Uri source = _server.Serve("/bad.tar.gz", answer);

        await Assert.ThrowsAsync<FetchException>(() => Preparer(client).PrepareAsync(modelHash, [source], null, CancellationToken.None));
        var cache = new BundleCache(_temp["cache"], Budget);
        Assert.Empty(cache.List());
        Assert.Empty(Directory.GetDirectories(_temp["cache/staging"]));
        Assert.Null(await client.InspectImageAsync(tag, CancellationToken.None));
    }

    [Fact]
    public async Task A_bundle_announced_larger_than_the_cache_is_refused_before_its_body_is_read()
    {
        await using EngineClient client = await Engines.ConnectAsync("docker");
        (byte[] archive, string modelHash) = TestBundles.Pack(TestBundles.CreateFolder(_temp, "inframind-test/too-big:1"));
        Uri source = _server.Serve("/big.tar.gz", new LocalHttpServer.Answer(archive));
        var preparer = new ModelPreparer(new BundleCache(_temp["cache"], archive.Length / 2), client, new HttpBundleFetcher(_http), null, Budget);
        var error = await Assert.ThrowsAsync<CacheException>(() => preparer.PrepareAsync(modelHash, [source], null, CancellationToken.None));
        Assert.Equal(CacheError.NoRoom, error.Error);
    }

    [Theory]
    [InlineData("flipped-byte")]
    [InlineData("missing-block")]
    [InlineData("extra-block")]
    [InlineData("wrong-root")]
    public async Task A_gateway_sending_bad_blocks_is_dropped_for_the_next(string how)
    {
        (string carName, string root, JsonElement bundle) = Fixture("bundle-v1.car");
        byte[] car = await File.ReadAllBytesAsync(FixturePath(carName));
        byte[] bad = how switch
        {
            "flipped-byte" => Flip((byte[])car.Clone(), car.Length - 10),
            "missing-block" => CarWithout(car, dropIndex: 3),
            "extra-block" => [.. car, .. CarBuilder.Car(Cid.Parse(root), [Block.Raw("unrelated"u8.ToArray())]).AsSpan(CarBuilder.Header(Cid.Parse(root)).Length)],
            _ => await File.ReadAllBytesAsync(FixturePath("nested.car")),
        };
        Uri badGateway = new(_server.BaseUri, "/bad/");
        Uri goodGateway = new(_server.BaseUri, "/good/");
        _server.Serve($"/bad/ipfs/{root}", new LocalHttpServer.Answer(bad, IpfsGatewayFetcher.CarMediaType));
        _server.Serve($"/good/ipfs/{root}", new LocalHttpServer.Answer(car, IpfsGatewayFetcher.CarMediaType));
        var gateways = new IpfsGatewayFetcher(_http, [WithRootPath(badGateway), WithRootPath(goodGateway)], TimeSpan.FromSeconds(20));

        string output = _temp["out"];
        await gateways.FetchAsync(Cid.Parse(root), output, 64 << 20, null, CancellationToken.None);
        Assert.Equal(1, _server.RequestsFor($"/bad/ipfs/{root}")); // dropped after bad data, not retried
        Assert.Equal(1, _server.RequestsFor($"/good/ipfs/{root}"));
        AssertTree(output, bundle);
    }

    [Fact]
    public async Task Every_fixture_car_is_rebuilt_byte_for_byte_through_a_gateway()
    {
        using JsonDocument bundles = JsonDocument.Parse(await File.ReadAllTextAsync(FixturePath("bundles.json")));
        foreach (JsonElement bundle in bundles.RootElement.GetProperty("cars").EnumerateArray())
        {
            string carName = bundle.GetProperty("file").GetString()!;
            string root = bundle.GetProperty("root").GetString()!;
            _server.Serve($"/gw/ipfs/{root}", new LocalHttpServer.Answer(await File.ReadAllBytesAsync(FixturePath(carName)), IpfsGatewayFetcher.CarMediaType));
            var gateway = new IpfsGatewayFetcher(_http, [WithRootPath(new Uri(_server.BaseUri, "/gw/"))], TimeSpan.FromSeconds(20));
            string output = _temp[$"out-{carName}"];
            await gateway.FetchAsync(Cid.Parse(root), output, 64 << 20, null, CancellationToken.None);
            AssertTree(output, bundle);
        }
    }

    private ModelPreparer Preparer(EngineClient client) =>
        new(new BundleCache(_temp["cache"], Budget), client, new HttpBundleFetcher(_http), null, Budget);

    // The fetcher asks for {gateway}/ipfs/{cid}: a gateway given with a path keeps it.
    private static Uri WithRootPath(Uri gateway) => gateway;

    private static string FixturePath(string name) => Path.Combine(ConfigLoaderTests.RepoRoot(), "tests", "vectors", "ipfs", name);

    private static (string Car, string Root, JsonElement Bundle) Fixture(string car)
    {
        using JsonDocument bundles = JsonDocument.Parse(File.ReadAllText(FixturePath("bundles.json")));
        JsonElement bundle = bundles.RootElement.GetProperty("cars").EnumerateArray().First(b => b.GetProperty("file").GetString() == car).Clone();
        return (car, bundle.GetProperty("root").GetString()!, bundle);
    }

    private static void AssertTree(string output, JsonElement bundle)
    {
        foreach (JsonElement entry in bundle.GetProperty("tree").EnumerateArray())
        {
            string relative = entry.GetProperty("path").GetString()!;
            bool directory = entry.GetProperty("type").GetString() == "directory";
            string path = relative.Length > 0 ? Path.Combine(output, relative) : directory ? output : Path.Combine(output, "bundle");
            if (directory)
            {
                Assert.True(Directory.Exists(path), path);
                continue;
            }

            Assert.Equal(entry.GetProperty("size").GetInt64(), new FileInfo(path).Length);
            Assert.Equal(entry.GetProperty("sha256").GetString(), Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(path))));
        }
    }

    private static byte[] Flip(byte[] bytes, int at)
    {
        bytes[at] ^= 0x01;
        return bytes;
    }

    /// <summary>The CAR with its block number <paramref name="dropIndex"/> (0 = first after the header) left out.</summary>
    private static byte[] CarWithout(byte[] car, int dropIndex)
    {
        int offset = 0;
        int headerLength = (int)ReadVarint(car, ref offset);
        offset += headerLength;
        var kept = new List<byte>(car[..offset]);
        for (int index = 0; offset < car.Length; index++)
        {
            int start = offset;
            int length = (int)ReadVarint(car, ref offset);
            offset += length;
            if (index != dropIndex)
                kept.AddRange(car[start..offset]);
        }

        return [.. kept];
    }

    private static ulong ReadVarint(byte[] data, ref int offset)
    {
        ulong value = 0;
        for (int shift = 0; ; shift += 7)
        {
            byte b = data[offset++];
            value |= (ulong)(b & 0x7f) << shift;
            if (b < 0x80)
                return value;
        }
    }

    /// <summary>
    /// Removes the test's tag only: the retagged bundle image shares its id with the probe image, so deleting
    /// by id would take the probe image (and every later container test) with it.
    /// </summary>
    private static Task RemoveImageAsync(EngineClient client, string tag) => EngineImages.RemoveAsync(client.SocketPath, tag);

    /// <summary>Reports synchronously, so the order of phases is the order they happened in.</summary>
    private sealed class SyncProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
