using System.Text;
using InfraMind.Node.Models.Content;
using InfraMind.Node.Tests.Support;
using static InfraMind.Node.Tests.Models.CarBuilder;

namespace InfraMind.Node.Tests.Models;

/// <summary>Builds a UnixFS DAG block by block, keeping each node's content size and cumulative size for links.</summary>
public sealed class Dag
{
    private readonly Dictionary<Cid, (ulong Size, ulong Tsize)> _sizes = [];

    public List<Block> Blocks { get; } = [];

    public Block Add(Block block, ulong size, ulong childTsizes)
    {
        if (!_sizes.ContainsKey(block.Cid))
            Blocks.Add(block);
        _sizes[block.Cid] = (size, (ulong)block.Bytes.Length + childTsizes);
        return block;
    }

    public ulong Size(Block b) => _sizes[b.Cid].Size;

    public ulong Tsize(Block b) => _sizes[b.Cid].Tsize;

    public Block Raw(string text) => Raw(Encoding.UTF8.GetBytes(text));

    public Block Raw(byte[] data) => Add(Block.Raw(data), (ulong)data.Length, 0);

    /// <summary>A dag-pb leaf: UnixFS File carrying its bytes (the older importers' layout).</summary>
    public Block PbLeaf(byte[] data) => Add(Block.DagPb(PbNodeBytes([], UnixFsBytes(2, data, (ulong)data.Length))), (ulong)data.Length, 0);

    public Block File(params Block[] children) => FileWith(null, children);

    public Block FileWith(byte[]? ownData, params Block[] children)
    {
        Block node = CarBuilder.FileNode(children.Select(c => (c, Size(c), Tsize(c))).ToList(), ownData);
        ulong size = (ulong)(ownData?.Length ?? 0) + children.Aggregate(0UL, (s, c) => s + Size(c));
        return Add(node, size, children.Aggregate(0UL, (s, c) => s + Tsize(c)));
    }

    public Block Dir(params (string Name, Block Target)[] entries)
    {
        Block node = DirNode(entries.Select(e => (e.Name, e.Target, Tsize(e.Target))).ToArray());
        return Add(node, 0, entries.Aggregate(0UL, (s, e) => s + Tsize(e.Target)));
    }

    /// <summary>The CAR of every block added so far, the root's first (as gateways send them).</summary>
    public byte[] Car(Block root) => CarBuilder.Car(root.Cid, Blocks.OrderBy(b => b.Cid == root.Cid ? 0 : 1));
}

public class CarBundleReaderTests
{
    private static readonly byte[] Big = Pattern(5000, 3);

    /// <summary>
    /// A directory with a raw-leaf file, a nested folder holding a multi-level file (raw leaves, a dag-pb leaf, a file
    /// node with bytes of its own), an empty file, an empty folder, and a file that links one leaf three times.
    /// </summary>
    private static (Dag Dag, Block Root, Dictionary<string, byte[]> Files, string[] Folders) Bundle()
    {
        var dag = new Dag();
        Block config = dag.Raw("{\"arch\":\"llama\"}");
        Block l1 = dag.Raw(Big[..2000]);
        Block l2 = dag.PbLeaf(Big[2000..3000]);
        Block l3 = dag.Raw(Big[3100..4000]);
        Block l4 = dag.Raw(Big[4000..]);
        Block inner = dag.FileWith(Big[3000..3100], l3, l4);
        Block weights = dag.File(l1, l2, inner);
        Block empty = dag.Add(Block.DagPb(PbNodeBytes([], UnixFsBytes(2, null, 0))), 0, 0);
        Block chunk = dag.Raw("abc");
        Block repeated = dag.File(chunk, chunk, chunk);
        Block emptyDir = dag.Dir();
        Block sub = dag.Dir(("model.bin", weights), ("empty.txt", empty));
        Block root = dag.Dir(("config.json", config), ("dup.bin", repeated), ("nothing", emptyDir), ("weights", sub));
        var files = new Dictionary<string, byte[]>
        {
            ["config.json"] = Encoding.UTF8.GetBytes("{\"arch\":\"llama\"}"),
            ["dup.bin"] = Encoding.UTF8.GetBytes("abcabcabc"),
            ["weights/model.bin"] = Big,
            ["weights/empty.txt"] = [],
        };
        return (dag, root, files, ["nothing", "weights"]);
    }

    private static Task<BundleSummary> Extract(TempFolder tmp, Cid root, byte[] car, long maxBytes = 1 << 30, IProgress<BundleProgress>? progress = null, int chunk = int.MaxValue, CancellationToken cancellationToken = default) =>
        CarBundleReader.ExtractAsync(root, new TrickleStream(car, chunk), tmp["out"], "model.bin", maxBytes, progress, cancellationToken);

    private static async Task<BundleException> Refused(TempFolder tmp, Cid root, byte[] car, long maxBytes = 1 << 30)
    {
        var e = await Assert.ThrowsAsync<BundleException>(() => Extract(tmp, root, car, maxBytes));
        AssertNothingLeft(tmp);
        return e;
    }

    private static void AssertNothingLeft(TempFolder tmp) =>
        Assert.Empty(Directory.EnumerateFileSystemEntries(tmp.Path));

    private static void AssertTree(string folder, Dictionary<string, byte[]> files, string[] folders)
    {
        var actualFiles = Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories)
            .ToDictionary(f => Path.GetRelativePath(folder, f), File.ReadAllBytes);
        Assert.Equal(files.Keys.Order(), actualFiles.Keys.Order());
        foreach ((string name, byte[] bytes) in files)
            Assert.True(bytes.AsSpan().SequenceEqual(actualFiles[name]), name);
        Assert.Equal(folders.Order(), Directory.EnumerateDirectories(folder, "*", SearchOption.AllDirectories).Select(d => Path.GetRelativePath(folder, d)).Order());
    }

    [Theory]
    [InlineData(int.MaxValue)]
    [InlineData(7)]
    public async Task A_directory_bundle_is_written_file_for_file_and_reported(int chunk)
    {
        using var tmp = new TempFolder();
        (Dag dag, Block root, Dictionary<string, byte[]> files, string[] folders) = Bundle();
        byte[] car = dag.Car(root);
        var reports = new List<BundleProgress>();
        BundleSummary summary = await Extract(tmp, root.Cid, car, progress: new Inline(reports), chunk: chunk);

        AssertTree(tmp["out"], files, folders);
        Assert.Equal([tmp["out"]], Directory.EnumerateFileSystemEntries(tmp.Path));
        Assert.Equal(new BundleSummary(root.Cid, true, 4, 3, 5000 + 16 + 9, dag.Blocks.Count, car.Length), summary);
        Assert.Equal(dag.Blocks.Count, reports.Count(r => r.Stage == BundleStage.Receiving));
        Assert.Equal(Enumerable.Range(1, dag.Blocks.Count), reports.Where(r => r.Stage == BundleStage.Receiving).Select(r => r.BlocksVerified));
        Assert.Equal(4, reports.Count(r => r.Stage == BundleStage.Writing));
        Assert.Equal(new BundleProgress(BundleStage.Done, car.Length, dag.Blocks.Count, summary.Bytes), reports[^1]);
    }

    [Fact]
    public async Task A_bare_file_root_becomes_one_named_file()
    {
        using var tmp = new TempFolder();
        var dag = new Dag();
        Block root = dag.File(dag.Raw(Big[..4000]), dag.Raw(Big[4000..]));
        BundleSummary summary = await Extract(tmp, root.Cid, dag.Car(root));
        Assert.False(summary.IsDirectory);
        AssertTree(tmp["out"], new() { ["model.bin"] = Big }, []);

        using var tmp2 = new TempFolder();
        Block raw = Block.Raw(Big);
        await Extract(tmp2, raw.Cid, Car(raw.Cid, [raw]));
        AssertTree(tmp2["out"], new() { ["model.bin"] = Big }, []);
    }

    [Theory]
    [InlineData("")]
    [InlineData("..")]
    [InlineData("a/b")]
    public async Task The_bare_file_name_must_be_safe_too(string name)
    {
        using var tmp = new TempFolder();
        Block raw = Block.Raw(Big);
        await Assert.ThrowsAsync<ArgumentException>(() =>
            CarBundleReader.ExtractAsync(raw.Cid, new MemoryStream(Car(raw.Cid, [raw])), tmp["out"], name, 1 << 20));
        AssertNothingLeft(tmp);
    }

    [Fact]
    public async Task A_v0_root_matches_its_v1_twin_and_v0_links_find_v1_blocks()
    {
        using var tmp = new TempFolder();
        Block leaf = Block.DagPb(PbNodeBytes([], UnixFsBytes(2, [1, 2, 3], 3)));
        Cid leafV0 = Cid.Create(0, CidCodec.DagPb, leaf.Cid.Digest);
        Block root = Block.DagPb(PbNodeBytes([Link(leafV0, "a", 11)], UnixFsBytes(1)));
        Cid rootV0 = Cid.Create(0, CidCodec.DagPb, root.Cid.Digest);
        await Extract(tmp, rootV0, Car(root.Cid, [root, leaf]));
        AssertTree(tmp["out"], new() { ["a"] = [1, 2, 3] }, []);
    }

    [Fact]
    public async Task A_wrong_root_is_refused_before_any_block_is_read()
    {
        using var tmp = new TempFolder();
        (Dag dag, Block root, _, _) = Bundle();
        Block other = Block.Raw([1]);
        byte[] header = Header(other.Cid);

        // Garbage after the header: the root check must come first, so this is a root mismatch, not a malformed CAR.
        byte[] car = [.. new Proto().Varint((ulong)header.Length).ToArray(), .. header, 0xFF, 0xFF, 0xFF];
        BundleException e = await Refused(tmp, root.Cid, car);
        Assert.Equal(BundleError.RootMismatch, e.Error);
        Assert.Contains(root.Cid.ToString(), e.Message, StringComparison.Ordinal);
        Assert.Contains(other.Cid.ToString(), e.Message, StringComparison.Ordinal);

        Assert.Equal(BundleError.RootMismatch, (await Refused(tmp, root.Cid, CarBuilder.Car(Header(root.Cid, other.Cid), dag.Blocks.Append(other)))).Error);
        Assert.Equal(BundleError.RootMismatch, (await Refused(tmp, root.Cid, CarBuilder.Car(Header(), dag.Blocks))).Error);
        Assert.Equal(BundleError.RootMismatch, (await Refused(tmp, Cid.Create(1, CidCodec.Raw, root.Cid.Digest), dag.Car(root))).Error);
    }

    [Fact]
    public async Task A_missing_block_is_refused()
    {
        using var tmp = new TempFolder();
        (Dag dag, Block root, _, _) = Bundle();
        foreach (Block missing in dag.Blocks)
        {
            BundleException e = await Refused(tmp, root.Cid, CarBuilder.Car(root.Cid, dag.Blocks.Where(b => b != missing)));
            Assert.Equal(BundleError.MissingBlock, e.Error);
            Assert.Contains(missing.Cid.ToString(), e.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task A_block_the_dag_never_reaches_is_refused_and_a_repeated_one_is_not()
    {
        using var tmp = new TempFolder();
        (Dag dag, Block root, Dictionary<string, byte[]> files, string[] folders) = Bundle();
        Block stray = Block.Raw(Encoding.UTF8.GetBytes("not part of the model"));
        BundleException e = await Refused(tmp, root.Cid, CarBuilder.Car(root.Cid, dag.Blocks.Append(stray)));
        Assert.Equal(BundleError.UnexpectedBlock, e.Error);
        Assert.Contains(stray.Cid.ToString(), e.Message, StringComparison.Ordinal);

        await Extract(tmp, root.Cid, CarBuilder.Car(root.Cid, dag.Blocks.Concat(dag.Blocks)));
        AssertTree(tmp["out"], files, folders);
    }

    [Fact]
    public async Task A_flipped_byte_in_any_block_is_refused_and_nothing_is_left()
    {
        using var tmp = new TempFolder();
        (Dag dag, Block root, _, _) = Bundle();
        byte[] car = dag.Car(root);
        int at = Header(root.Cid).Length + 1;
        foreach (Block block in dag.Blocks.OrderBy(b => b.Cid == root.Cid ? 0 : 1))
        {
            int section = block.Cid.BinaryLength + block.Bytes.Length;
            at += (section < 128 ? 1 : section < 16384 ? 2 : 3) + section;
            if (block.Bytes.Length == 0)
                continue;
            byte[] bad = (byte[])car.Clone();
            bad[at - 1] ^= 0x80;
            BundleException e = await Refused(tmp, root.Cid, bad);
            Assert.Equal(BundleError.BlockHashMismatch, e.Error);
            Assert.Contains(block.Cid.ToString(), e.Message, StringComparison.Ordinal);
        }

        Assert.Equal(car.Length, at);
    }

    [Fact]
    public async Task Every_truncation_point_is_refused_and_leaves_nothing()
    {
        using var tmp = new TempFolder();
        var dag = new Dag();
        Block root = dag.Dir(("a", dag.File(dag.Raw("hello "), dag.Raw("world"))), ("b", dag.Raw("!")));
        byte[] car = dag.Car(root);
        for (int length = 0; length < car.Length; length++)
        {
            var e = await Assert.ThrowsAsync<BundleException>(() => Extract(tmp, root.Cid, car[..length]));
            Assert.True(e.Error is BundleError.Truncated or BundleError.MissingBlock, $"prefix {length}: {e.Error} {e.Message}");
            AssertNothingLeft(tmp);
        }

        await Extract(tmp, root.Cid, car);
        AssertTree(tmp["out"], new() { ["a"] = "hello world"u8.ToArray(), ["b"] = "!"u8.ToArray() }, []);
    }

    [Theory]
    [InlineData("")]
    [InlineData(".")]
    [InlineData("..")]
    [InlineData("a/b")]
    [InlineData("../../escaped")]
    [InlineData("/etc/passwd")]
    [InlineData("a\0b")]
    [InlineData(null)]
    public async Task Names_that_could_escape_the_folder_are_refused(string? name)
    {
        using var tmp = new TempFolder();
        var dag = new Dag();
        Block file = dag.Raw("payload");
        Block root = dag.Add(Block.DagPb(PbNodeBytes([Link(dag.Raw("fine").Cid, "ok", 4), Link(file.Cid, name, 7)], UnixFsBytes(1))), 0, 11);
        BundleException e = await Refused(tmp, root.Cid, dag.Car(root));
        Assert.Equal(BundleError.UnsafeName, e.Error);
        Assert.False(File.Exists(Path.Combine(tmp.Path, "..", "escaped")));
    }

    [Fact]
    public async Task A_name_over_255_bytes_and_a_name_that_is_not_utf8_are_refused()
    {
        using var tmp = new TempFolder();
        var dag = new Dag();
        Block file = dag.Raw("payload");
        Block root = dag.Dir((new string('é', 128), file));
        Assert.Equal(BundleError.UnsafeName, (await Refused(tmp, root.Cid, dag.Car(root))).Error);

        byte[] link = new Proto().Field(1, file.Cid.ToBytes()).Field(2, [0x2E, 0x2E, 0xC0, 0xAF]).Field(3, 7).ToArray();
        Block bad = Block.DagPb(PbNodeBytes([link], UnixFsBytes(1)));
        BundleException e = await Refused(tmp, bad.Cid, Car(bad.Cid, [bad, file]));
        Assert.Equal(BundleError.DagMalformed, e.Error);
        Assert.Contains("UTF-8", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Two_entries_with_one_name_are_refused()
    {
        using var tmp = new TempFolder();
        var dag = new Dag();
        Block root = dag.Dir(("x", dag.Raw("1")), ("x", dag.Raw("2")));
        BundleException e = await Refused(tmp, root.Cid, dag.Car(root));
        Assert.Equal(BundleError.DagMalformed, e.Error);
        Assert.Contains("two entries named 'x'", e.Message, StringComparison.Ordinal);
    }

    public static TheoryData<string> Inconsistencies() => ["filesize", "blocksize value", "blocksize count", "no blocksizes", "tsize", "directory data", "no data", "directory in file"];

    [Theory]
    [MemberData(nameof(Inconsistencies))]
    public async Task File_sizes_that_disagree_with_the_blocks_are_refused(string kind)
    {
        using var tmp = new TempFolder();
        var dag = new Dag();
        Block a = dag.Raw("aaaa");
        Block b = dag.Raw("bbbbbb");
        byte[] links(ulong tsizeA) => [.. new Proto().Field(2, Link(a.Cid, "", tsizeA)).Field(2, Link(b.Cid, "", 6)).ToArray()];
        Block node = kind switch
        {
            "filesize" => Block.DagPb([.. links(4), .. new Proto().Field(1, UnixFsBytes(2, null, 11, [4, 6])).ToArray()]),
            "blocksize value" => Block.DagPb([.. links(4), .. new Proto().Field(1, UnixFsBytes(2, null, 10, [5, 5])).ToArray()]),
            "blocksize count" => Block.DagPb([.. links(4), .. new Proto().Field(1, UnixFsBytes(2, null, 10, [10])).ToArray()]),
            "no blocksizes" => Block.DagPb([.. links(4), .. new Proto().Field(1, UnixFsBytes(2, null, 10)).ToArray()]),
            "tsize" => Block.DagPb([.. links(3), .. new Proto().Field(1, UnixFsBytes(2, null, 10, [4, 6])).ToArray()]),
            "directory data" => Block.DagPb(PbNodeBytes([], UnixFsBytes(1, [1]))),
            "no data" => Block.DagPb(PbNodeBytes([Link(a.Cid, "a", 4)], null)),
            _ => Block.DagPb(PbNodeBytes([Link(dag.Dir().Cid, "", 4)], UnixFsBytes(2, null, 0, [0]))),
        };
        Block root = dag.Dir(("f", dag.Add(node, 10, 10)));
        BundleException e = await Refused(tmp, root.Cid, dag.Car(root));
        Assert.Equal(BundleError.DagMalformed, e.Error);
    }

    [Theory]
    [InlineData(3, "metadata")]
    [InlineData(4, "symlink")]
    [InlineData(5, "HAMT")]
    public async Task Hamt_shards_symlinks_and_metadata_are_unsupported(int type, string named)
    {
        using var tmp = new TempFolder();
        var dag = new Dag();
        Block odd = dag.Add(Block.DagPb(PbNodeBytes([], UnixFsBytes(type, "target"u8.ToArray()))), 0, 0);
        Block root = dag.Dir(("x", odd));
        BundleException e = await Refused(tmp, root.Cid, dag.Car(root));
        Assert.Equal(BundleError.Unsupported, e.Error);
        Assert.Contains(named, e.Message, StringComparison.Ordinal);
        Assert.Equal(BundleError.Unsupported, (await Refused(tmp, odd.Cid, Car(odd.Cid, [odd]))).Error);
    }

    [Fact]
    public async Task Size_limits_hold_for_the_files_the_claims_and_the_stream()
    {
        using var tmp = new TempFolder();
        (Dag dag, Block root, _, _) = Bundle();
        BundleException e = await Refused(tmp, root.Cid, dag.Car(root), maxBytes: 4000);
        Assert.Equal(BundleError.TooLarge, e.Error);

        // A file node that claims more than the limit is refused before its bytes are written.
        var lying = new Dag();
        Block leaf = lying.Raw("x");
        Block claim = lying.Add(Block.DagPb(PbNodeBytes([Link(leaf.Cid, "", 1)], UnixFsBytes(2, null, 1UL << 40, [1]))), 1, 1);
        Assert.Equal(BundleError.TooLarge, (await Refused(tmp, claim.Cid, lying.Car(claim), maxBytes: 1000)).Error);

        // The stream itself may only run 1/16 + 1 MiB over the limit: a small file whose CAR goes on with 2 MiB of
        // other blocks (the walk reads them after the file is complete, and the file's own claims are within the limit).
        var huge = new Dag();
        Block small = huge.File(huge.Raw("tiny"));
        huge.Raw(Pattern(1 << 20, 1));
        huge.Raw(Pattern(1 << 20, 2));
        e = await Refused(tmp, small.Cid, huge.Car(small), maxBytes: 1000);
        Assert.Equal(BundleError.TooLarge, e.Error);
        Assert.Contains("CAR stream", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_dag_deeper_than_the_limit_is_refused()
    {
        using var tmp = new TempFolder();
        var dag = new Dag();
        Block node = dag.Raw("x");
        for (int i = 0; i <= CarBundleReader.MaxDepth; i++)
            node = dag.File(node);
        BundleException e = await Refused(tmp, node.Cid, dag.Car(node));
        Assert.Equal(BundleError.TooLarge, e.Error);
        Assert.Contains("levels deep", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_existing_output_is_never_written_over()
    {
        using var tmp = new TempFolder();
        tmp.Write("out/keep.txt", "mine");
        (Dag dag, Block root, _, _) = Bundle();
        var e = await Assert.ThrowsAsync<BundleException>(() => Extract(tmp, root.Cid, dag.Car(root)));
        Assert.Equal(BundleError.OutputExists, e.Error);
        Assert.Equal("mine", await File.ReadAllTextAsync(tmp["out/keep.txt"]));
        Assert.Single(Directory.EnumerateFileSystemEntries(tmp.Path));
    }

    [Fact]
    public async Task Cancellation_leaves_nothing()
    {
        using var tmp = new TempFolder();
        (Dag dag, Block root, _, _) = Bundle();
        using var cts = new CancellationTokenSource();
        var progress = new Inline([], r =>
        {
            if (r.Stage == BundleStage.Writing)
                cts.Cancel();
        });
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Extract(tmp, root.Cid, dag.Car(root), progress: progress, cancellationToken: cts.Token));
        AssertNothingLeft(tmp);
    }

    [Fact]
    public void Unsafe_names_are_named()
    {
        Assert.Null(CarBundleReader.UnsafeName("model.safetensors"));
        Assert.Null(CarBundleReader.UnsafeName("..."));
        Assert.Null(CarBundleReader.UnsafeName(".hidden"));
        Assert.Null(CarBundleReader.UnsafeName(new string('x', 255)));
        Assert.NotNull(CarBundleReader.UnsafeName(new string('x', 256)));
        Assert.Contains("NUL", CarBundleReader.UnsafeName("a\0"), StringComparison.Ordinal);
    }

    /// <summary>Progress reported synchronously (Progress&lt;T&gt; posts to the thread pool and races the asserts).</summary>
    private sealed class Inline(List<BundleProgress> reports, Action<BundleProgress>? then = null) : IProgress<BundleProgress>
    {
        public void Report(BundleProgress value)
        {
            reports.Add(value);
            then?.Invoke(value);
        }
    }
}
