using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using InfraMind.Node.Models.Content;
using InfraMind.Node.Tests.Support;

namespace InfraMind.Node.Tests.Models;

/// <summary>
/// tests/vectors/ipfs/, made by make-ipfs-vectors.mjs with the IPFS JavaScript libraries (multiformats, @ipld/car,
/// ipfs-unixfs-importer). Read from the repository (found by walking up to inframind-node.sln), not copied into
/// the test output.
/// </summary>
public static class IpfsVectors
{
    public static string Folder { get; } = Locate();

    public static JsonElement Cids { get; } = Load("cids.json");

    public static JsonElement Bundles { get; } = Load("bundles.json");

    public static string Path(string name) => System.IO.Path.Combine(Folder, name);

    public static JsonElement Car(string file) =>
        Bundles.GetProperty("cars").EnumerateArray().Single(c => c.GetProperty("file").GetString() == file);

    /// <summary>The generator's pattern: byte[i] = (i * 31 + 7 + seed) &amp; 0xff.</summary>
    public static byte[] Pattern(int length, int seed)
    {
        var bytes = new byte[length];
        for (int i = 0; i < length; i++)
            bytes[i] = (byte)((i * 31) + 7 + seed);
        return bytes;
    }

    private static JsonElement Load(string name) =>
        JsonDocument.Parse(File.ReadAllBytes(Path(name))).RootElement.Clone();

    private static string Locate()
    {
        for (string? dir = AppContext.BaseDirectory; dir is not null; dir = System.IO.Path.GetDirectoryName(dir))
        {
            if (File.Exists(System.IO.Path.Combine(dir, "inframind-node.sln")))
                return System.IO.Path.Combine(dir, "tests", "vectors", "ipfs");
        }

        throw new InvalidOperationException($"inframind-node.sln not found above {AppContext.BaseDirectory}");
    }
}

public class IpfsVectorTests
{
    public static TheoryData<string, int> ValidCids()
    {
        var data = new TheoryData<string, int>();
        foreach (string section in new[] { "raw_leaf_cids", "dag_pb_cids" })
        {
            for (int i = 0; i < IpfsVectors.Cids.GetProperty(section).GetArrayLength(); i++)
                data.Add(section, i);
        }

        return data;
    }

    public static TheoryData<int> InvalidCids() => [.. Enumerable.Range(0, IpfsVectors.Cids.GetProperty("invalid").GetArrayLength())];

    public static TheoryData<string> Cars() => [.. IpfsVectors.Bundles.GetProperty("cars").EnumerateArray().Select(c => c.GetProperty("file").GetString()!)];

    [Fact]
    public void The_vectors_cover_both_versions_every_layout_and_both_refusal_kinds()
    {
        Assert.Equal(6, IpfsVectors.Bundles.GetProperty("cars").GetArrayLength());
        Assert.True(IpfsVectors.Cids.GetProperty("raw_leaf_cids").GetArrayLength() >= 5);
        Assert.True(IpfsVectors.Cids.GetProperty("dag_pb_cids").GetArrayLength() >= 5);
        var categories = IpfsVectors.Cids.GetProperty("invalid").EnumerateArray().Select(v => v.GetProperty("category").GetString()).ToHashSet();
        Assert.Equal(new HashSet<string?> { "malformed", "unsupported" }, categories);
    }

    [Theory]
    [MemberData(nameof(ValidCids))]
    public void Every_valid_cid_parses_in_every_base_and_prints_as_ipfs_prints_it(string section, int index)
    {
        JsonElement v = IpfsVectors.Cids.GetProperty(section)[index];
        string base32 = v.GetProperty("cidv1_base32").GetString()!;
        Cid v1 = Cid.Parse(base32);
        Assert.Equal(base32, v1.ToString());
        Assert.Equal(v1, Cid.Parse(v.GetProperty("cidv1_base58btc").GetString()!));
        Assert.Equal(v.GetProperty("cidv1_bytes_hex").GetString(), Convert.ToHexStringLower(v1.ToBytes()));
        Assert.Equal(v1, Cid.Read(Convert.FromHexString(v.GetProperty("cidv1_bytes_hex").GetString()!), out int used));
        Assert.Equal(v1.BinaryLength, used);
        Assert.Equal(v.GetProperty("multihash_hex").GetString(), "1220" + v1.Digest.ToString()[2..]);

        if (section == "raw_leaf_cids")
        {
            Assert.Equal(CidCodec.Raw, v1.Codec);
            string upper = v.GetProperty("cidv1_base32upper").GetString()!;
            Assert.Equal(v1, Cid.Parse(upper));
            byte[] input = v.TryGetProperty("input_hex", out JsonElement hex)
                ? Convert.FromHexString(hex.GetString()!)
                : IpfsVectors.Pattern(v.GetProperty("length").GetInt32(), v.GetProperty("input_pattern_seed").GetInt32());
            Assert.Equal(v.GetProperty("length").GetInt32(), input.Length);
            Assert.Equal(v1, Cid.ForBlock(CidCodec.Raw, input));
            Assert.True(v1.Verifies(input));
        }
        else
        {
            Assert.Equal(CidCodec.DagPb, v1.Codec);
            string text = v.GetProperty("cidv0").GetString()!;
            Cid v0 = Cid.Parse(text);
            Assert.Equal(0, v0.Version);
            Assert.Equal(text, v0.ToString());
            Assert.Equal(v.GetProperty("cidv0_bytes_hex").GetString(), Convert.ToHexStringLower(v0.ToBytes()));
            Assert.Equal(v1, v0.ToV1());
            Assert.True(v0.SameContent(v1));
            Assert.True(ContentAddress.TryParse(text, out ContentAddress? address, out _));
            Assert.Equal(v0, address!.Cid);
        }
    }

    [Theory]
    [MemberData(nameof(InvalidCids))]
    public void Every_invalid_cid_is_refused_as_malformed_or_unsupported(int index)
    {
        JsonElement v = IpfsVectors.Cids.GetProperty("invalid")[index];
        string input = v.GetProperty("input").GetString()!;
        BundleError expected = v.GetProperty("category").GetString() == "malformed" ? BundleError.BadAddress : BundleError.UnsupportedAddress;
        Assert.False(Cid.TryParse(input, out Cid? cid, out BundleError kind, out string error), v.GetProperty("reason").GetString());
        Assert.Null(cid);
        Assert.True(expected == kind, $"{v.GetProperty("reason")}: {kind} {error}");
        Assert.False(ContentAddress.TryParse(input, out _, out _));
    }

    [Theory]
    [MemberData(nameof(Cars))]
    public async Task Every_car_reads_back_block_for_block_in_its_recorded_order(string file)
    {
        JsonElement car = IpfsVectors.Car(file);
        byte[] bytes = await File.ReadAllBytesAsync(IpfsVectors.Path(file));
        Assert.Equal(car.GetProperty("car_size").GetInt64(), bytes.Length);
        Assert.Equal(car.GetProperty("car_sha256").GetString(), Convert.ToHexStringLower(SHA256.HashData(bytes)));

        await using var reader = new CarReader(new MemoryStream(bytes));
        CarHeader header = await reader.ReadHeaderAsync();
        Cid root = Cid.Parse(car.GetProperty("root").GetString()!);
        Assert.Equal([root], header.Roots);
        Assert.Equal(car.GetProperty("cid_version").GetInt32(), root.Version);

        var blocks = new List<(string Cid, string Codec, int Size)>();
        while (await reader.ReadBlockAsync() is CarBlock block)
            blocks.Add((block.Cid.ToString(), block.Cid.Codec == CidCodec.Raw ? "raw" : "dag-pb", block.Data.Length));
        Assert.Equal(car.GetProperty("blocks").EnumerateArray().Select(b => b.GetString()!), blocks.Select(b => b.Cid));
        Assert.Equal(car.GetProperty("block_codecs").EnumerateArray().Select(b => b.GetString()!), blocks.Select(b => b.Codec));
        Assert.Equal(car.GetProperty("block_sizes").EnumerateArray().Select(b => b.GetInt32()), blocks.Select(b => b.Size));
        Assert.Equal(car.GetProperty("block_count").GetInt32(), reader.BlocksVerified);
        Assert.Equal(bytes.Length, reader.BytesRead);
    }

    [Theory]
    [MemberData(nameof(Cars))]
    public async Task Every_car_is_rebuilt_file_for_file(string file)
    {
        using var tmp = new TempFolder();
        JsonElement car = IpfsVectors.Car(file);
        Cid root = Cid.Parse(car.GetProperty("root").GetString()!);
        BundleSummary summary;
        await using (FileStream stream = File.OpenRead(IpfsVectors.Path(file)))
            summary = await CarBundleReader.ExtractAsync(root, stream, tmp["out"], "model.bin", 1L << 30);

        AssertRebuilt(car, tmp["out"], summary);
        Assert.Equal(car.GetProperty("block_count").GetInt32(), summary.Blocks);
        Assert.Equal(car.GetProperty("car_size").GetInt64(), summary.CarBytes);
        Assert.Equal([tmp["out"]], Directory.EnumerateFileSystemEntries(tmp.Path));
    }

    /// <summary>
    /// A gateway answering dups=y repeats blocks in walk order; rebuilt from <c>dfs_with_duplicates</c>, the CAR
    /// must give the same files, and asking by the root's other CID version must too.
    /// </summary>
    [Theory]
    [MemberData(nameof(Cars))]
    public async Task The_duplicate_keeping_walk_and_the_other_cid_version_give_the_same_files(string file)
    {
        JsonElement car = IpfsVectors.Car(file);
        var byCid = new Dictionary<string, byte[]>();
        await using (var reader = new CarReader(File.OpenRead(IpfsVectors.Path(file))))
        {
            await reader.ReadHeaderAsync();
            while (await reader.ReadBlockAsync() is CarBlock block)
                byCid[block.Cid.ToString()] = block.Data.ToArray();
        }

        Cid root = Cid.Parse(car.GetProperty("root").GetString()!);
        IEnumerable<Block> walk = car.GetProperty("dfs_with_duplicates").EnumerateArray()
            .Select(c => new Block(Cid.Parse(c.GetString()!), byCid[c.GetString()!]));
        byte[] withDups = CarBuilder.Car(root, walk);

        using var tmp = new TempFolder();
        Cid twin = root.Version == 0 ? root.ToV1() : Cid.Create(0, CidCodec.DagPb, root.Digest);
        BundleSummary summary = await CarBundleReader.ExtractAsync(twin, new MemoryStream(withDups), tmp["out"], "model.bin", 1L << 30);
        AssertRebuilt(car, tmp["out"], summary);
    }

    [Fact]
    public async Task Every_truncation_point_of_a_real_car_is_refused_and_leaves_nothing()
    {
        JsonElement car = IpfsVectors.Car("nested.car");
        Cid root = Cid.Parse(car.GetProperty("root").GetString()!);
        byte[] bytes = await File.ReadAllBytesAsync(IpfsVectors.Path("nested.car"));
        using var tmp = new TempFolder();
        for (int length = 0; length < bytes.Length; length++)
        {
            var e = await Assert.ThrowsAsync<BundleException>(() =>
                CarBundleReader.ExtractAsync(root, new MemoryStream(bytes, 0, length), tmp["out"], "model.bin", 1 << 20));
            Assert.True(e.Error is BundleError.Truncated or BundleError.MissingBlock, $"prefix {length}: {e.Error}");
            Assert.Empty(Directory.EnumerateFileSystemEntries(tmp.Path));
        }
    }

    [Fact]
    public async Task A_flipped_byte_in_any_block_of_a_real_car_is_caught()
    {
        JsonElement car = IpfsVectors.Car("chunked-distinct.car");
        Cid root = Cid.Parse(car.GetProperty("root").GetString()!);
        byte[] bytes = await File.ReadAllBytesAsync(IpfsVectors.Path("chunked-distinct.car"));
        using var tmp = new TempFolder();
        var random = new Random(11);
        int headerEnd = 1 + bytes[0];
        for (int i = 0; i < 40; i++)
        {
            byte[] bad = (byte[])bytes.Clone();
            bad[random.Next(headerEnd, bad.Length)] ^= (byte)(1 << random.Next(8));
            var e = await Assert.ThrowsAsync<BundleException>(() =>
                CarBundleReader.ExtractAsync(root, new MemoryStream(bad), tmp["out"], "model.bin", 1 << 20));
            Assert.Contains(e.Error, new[] { BundleError.BlockHashMismatch, BundleError.CarMalformed, BundleError.UnsupportedAddress, BundleError.BlockTooLarge, BundleError.Truncated });
            Assert.Empty(Directory.EnumerateFileSystemEntries(tmp.Path));
        }
    }

    private static void AssertRebuilt(JsonElement car, string output, BundleSummary summary)
    {
        var expectedFiles = new HashSet<string>();
        var expectedFolders = new HashSet<string>();
        long total = 0;
        foreach (JsonElement entry in car.GetProperty("tree").EnumerateArray())
        {
            string path = entry.GetProperty("path").GetString()!;
            if (entry.GetProperty("type").GetString() == "directory")
            {
                if (path.Length > 0)
                    expectedFolders.Add(path);
                continue;
            }

            string relative = path.Length == 0 ? "model.bin" : path;
            expectedFiles.Add(relative);
            byte[] content = File.ReadAllBytes(Path.Combine(output, relative));
            long size = entry.GetProperty("size").GetInt64();
            total += size;
            Assert.True(size == content.Length, $"{relative}: {content.Length} bytes, expected {size}");
            Assert.Equal(entry.GetProperty("sha256").GetString(), Convert.ToHexStringLower(SHA256.HashData(content)));
            JsonElement source = entry.GetProperty("source");
            byte[] regenerated = source.TryGetProperty("text", out JsonElement text)
                ? Encoding.UTF8.GetBytes(text.GetString()!)
                : IpfsVectors.Pattern(source.GetProperty("length").GetInt32(), source.GetProperty("pattern_seed").GetInt32());
            Assert.True(regenerated.AsSpan().SequenceEqual(content), relative);
        }

        Assert.Equal(expectedFiles.Order(StringComparer.Ordinal), Directory.EnumerateFiles(output, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(output, f)).Order(StringComparer.Ordinal));
        Assert.Equal(expectedFolders.Order(StringComparer.Ordinal), Directory.EnumerateDirectories(output, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(output, f)).Order(StringComparer.Ordinal));
        Assert.Equal(total, summary.Bytes);
        Assert.Equal(expectedFiles.Count, summary.Files);
        Assert.Equal(car.GetProperty("tree")[0].GetProperty("type").GetString() == "directory", summary.IsDirectory);
    }
}
