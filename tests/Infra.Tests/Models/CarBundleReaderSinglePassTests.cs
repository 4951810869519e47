using InfraMind.Node.Models.Content;
using InfraMind.Node.Tests.Support;
using static InfraMind.Node.Tests.Models.CarBuilder;

namespace InfraMind.Node.Tests.Models;

/// <summary>
/// The single pass of <see cref="CarBundleReader"/>: blocks in DAG order are written straight to the file while the
/// stream is read, blocks that come early are parked and used later, and a failure after bytes were written
/// directly leaves nothing behind.
/// </summary>
public class CarBundleReaderSinglePassTests
{
    private const int Leaf = 64 * 1024;

    /// <summary>
    /// A folder holding a two-level file of 40 raw leaves (two file nodes under one root file node, the last leaf
    /// short) and a small raw file; the blocks in depth-first pre-order, as `ipfs dag export` sends them.
    /// </summary>
    private static (Cid Root, List<Block> DfsOrder, byte[] Model, byte[] Config) Layout()
    {
        byte[] model = Noise((40 * Leaf) - 1234, 11);
        var dag = new Dag();
        var leaves = new List<Block>();
        for (int at = 0; at < model.Length; at += Leaf)
            leaves.Add(dag.Raw(model[at..Math.Min(at + Leaf, model.Length)]));
        Block left = dag.File([.. leaves.Take(20)]);
        Block right = dag.File([.. leaves.Skip(20)]);
        Block file = dag.File(left, right);
        byte[] config = "{\"name\":\"tiny\"}"u8.ToArray();
        Block raw = dag.Raw(config);
        Block root = dag.Dir(("config.json", raw), ("model.bin", file));
        List<Block> order = [root, raw, file, left, .. leaves.Take(20), right, .. leaves.Skip(20)];
        Assert.Equal(dag.Blocks.Count, order.Count);
        return (root.Cid, order, model, config);
    }

    private static async Task<(BundleSummary Summary, List<BundleProgress> Reports)> Extract(TempFolder tmp, Cid root, byte[] car, int chunk = int.MaxValue)
    {
        var reports = new List<BundleProgress>();
        BundleSummary summary = await CarBundleReader.ExtractAsync(root, new TrickleStream(car, chunk), tmp["out"], "bundle", 1L << 30, new Inline(reports));
        return (summary, reports);
    }

    private static void AssertBundle(TempFolder tmp, byte[] model, byte[] config)
    {
        Assert.Equal(model, File.ReadAllBytes(tmp["out/model.bin"]));
        Assert.Equal(config, File.ReadAllBytes(tmp["out/config.json"]));
        Assert.Equal([tmp["out"]], Directory.EnumerateFileSystemEntries(tmp.Path)); // no spool, no partial folder
    }

    [Theory]
    [InlineData(int.MaxValue)]
    [InlineData(4093)]
    public async Task Blocks_in_dag_order_are_written_while_the_stream_is_read(int chunk)
    {
        using var tmp = new TempFolder();
        (Cid root, List<Block> order, byte[] model, byte[] config) = Layout();
        byte[] car = Car(root, order);
        (BundleSummary summary, List<BundleProgress> reports) = await Extract(tmp, root, car, chunk);

        AssertBundle(tmp, model, config);
        Assert.Equal(model.Length + config.Length, summary.Bytes);
        // Streaming: when the last block arrives, all but that leaf are already written (queued for the disk).
        BundleProgress last = reports.Last(r => r.Stage == BundleStage.Receiving);
        Assert.Equal(order.Count, last.BlocksVerified);
        Assert.Equal(model.Length + config.Length - order[^1].Bytes.Length, last.BytesWritten);
    }

    [Fact]
    public async Task Blocks_in_reverse_order_are_parked_and_the_result_is_the_same()
    {
        using var tmp = new TempFolder();
        (Cid root, List<Block> order, byte[] model, byte[] config) = Layout();
        List<Block> reversed = [order[0], .. order.Skip(1).Reverse()];
        (_, List<BundleProgress> reports) = await Extract(tmp, root, Car(root, reversed));

        AssertBundle(tmp, model, config);
        // Nothing of the big file can be written before its root node, the last block, arrives.
        Assert.True(reports.Last(r => r.Stage == BundleStage.Receiving).BytesWritten <= config.Length);
    }

    [Fact]
    public async Task A_leaf_before_its_parent_is_parked_and_the_rest_still_streams()
    {
        using var tmp = new TempFolder();
        (Cid root, List<Block> order, byte[] model, byte[] config) = Layout();
        // Leaf 0 comes right after the directory, before the file nodes that link it; leaf 21 before "right".
        Block leaf0 = order[4];
        Block leaf21 = order[26];
        List<Block> shuffled = [order[0], leaf0, .. order.Skip(1).Where(b => b != leaf0 && b != leaf21)];
        shuffled.Insert(shuffled.IndexOf(order[24]), leaf21);
        (_, List<BundleProgress> reports) = await Extract(tmp, root, Car(root, shuffled));

        AssertBundle(tmp, model, config);
        Assert.Equal(model.Length + config.Length - shuffled[^1].Bytes.Length, reports.Last(r => r.Stage == BundleStage.Receiving).BytesWritten);
    }

    [Fact]
    public async Task A_leaf_linked_twice_is_read_back_from_where_it_was_written()
    {
        using var tmp = new TempFolder();
        var dag = new Dag();
        Block a = dag.Raw(Noise(Leaf, 1));
        Block b = dag.Raw(Noise(Leaf, 2));
        Block file = dag.File(a, b, a, a);
        Block other = dag.File(b, a);
        Block root = dag.Dir(("one", file), ("two", other));
        byte[] car = Car(root.Cid, [root, file, a, b, other, a, b]); // repeats in the stream are dropped
        await CarBundleReader.ExtractAsync(root.Cid, new MemoryStream(car), tmp["out"], "bundle", 1L << 30);

        byte[] one = await File.ReadAllBytesAsync(tmp["out/one"]);
        byte[] two = await File.ReadAllBytesAsync(tmp["out/two"]);
        Assert.Equal((byte[])[.. a.Bytes, .. b.Bytes, .. a.Bytes, .. a.Bytes], one);
        Assert.Equal((byte[])[.. b.Bytes, .. a.Bytes], two);
    }

    [Fact]
    public async Task A_stream_cut_inside_a_leaf_after_leaves_were_written_leaves_nothing()
    {
        using var tmp = new TempFolder();
        (Cid root, List<Block> order, _, _) = Layout();
        byte[] car = Car(root, order);
        int cut = Car(root, order.Take(30)).Length + 1000; // inside the 31st block, a leaf of the second file node
        var e = await Assert.ThrowsAsync<BundleException>(() => Extract(tmp, root, car[..cut]));

        Assert.Equal(BundleError.Truncated, e.Error);
        Assert.Empty(Directory.EnumerateFileSystemEntries(tmp.Path));
    }

    [Fact]
    public async Task A_flipped_byte_in_a_late_leaf_discards_what_was_written_directly()
    {
        using var tmp = new TempFolder();
        (Cid root, List<Block> order, _, _) = Layout();
        byte[] car = Car(root, order);
        var reports = new List<BundleProgress>();
        car[^100] ^= 0x01; // inside the last leaf: 39 leaves were already handed to the writer
        var e = await Assert.ThrowsAsync<BundleException>(() =>
            CarBundleReader.ExtractAsync(root, new MemoryStream(car), tmp["out"], "bundle", 1L << 30, new Inline(reports)));

        Assert.Equal(BundleError.BlockHashMismatch, e.Error);
        Assert.Contains(order[^1].Cid.ToString(), e.Message, StringComparison.Ordinal);
        Assert.True(reports.Last().BytesWritten > 30 * Leaf, "the earlier leaves should have been written directly");
        Assert.Empty(Directory.EnumerateFileSystemEntries(tmp.Path)); // no output, no partial file, no spool
    }

    [Fact]
    public async Task A_missing_leaf_in_dag_order_is_refused_after_the_stream_ends()
    {
        using var tmp = new TempFolder();
        (Cid root, List<Block> order, _, _) = Layout();
        Block gone = order[10];
        var e = await Assert.ThrowsAsync<BundleException>(() => Extract(tmp, root, Car(root, order.Where(b => b != gone))));

        Assert.Equal(BundleError.MissingBlock, e.Error);
        Assert.Contains(gone.Cid.ToString(), e.Message, StringComparison.Ordinal);
        Assert.Empty(Directory.EnumerateFileSystemEntries(tmp.Path));
    }

    [Fact]
    public async Task An_unrelated_block_after_a_complete_dag_is_refused()
    {
        using var tmp = new TempFolder();
        (Cid root, List<Block> order, _, _) = Layout();
        Block stray = Block.Raw(Pattern(300, 7));
        var e = await Assert.ThrowsAsync<BundleException>(() => Extract(tmp, root, Car(root, [.. order, order[5], stray])));

        Assert.Equal(BundleError.UnexpectedBlock, e.Error);
        Assert.Contains(stray.Cid.ToString(), e.Message, StringComparison.Ordinal);
        Assert.Empty(Directory.EnumerateFileSystemEntries(tmp.Path));
    }

    /// <summary>Bytes without a period (CarBuilder.Pattern repeats every 256 bytes, so its 64 KiB leaves would all be one block).</summary>
    private static byte[] Noise(int length, int seed)
    {
        byte[] bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    private sealed class Inline(List<BundleProgress> reports) : IProgress<BundleProgress>
    {
        public void Report(BundleProgress value) => reports.Add(value);
    }
}
