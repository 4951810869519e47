using System.Text;
using System.Text.Json;
using InfraMind.Node.Crypto;
using InfraMind.Node.Crypto.Merkle;
using InfraMind.Node.Tests.Support;

namespace InfraMind.Node.Tests.Receipts;

/// <summary>Against tests/vectors/merkle/merkle-vectors.json, made by @openzeppelin/merkle-tree itself.</summary>
public class StandardMerkleTreeTests
{
    private static readonly JsonElement Vectors = JsonDocument.Parse(File.ReadAllBytes(
        Path.Combine(ReceiptSamples.RepositoryRoot(), "tests", "vectors", "merkle", "merkle-vectors.json"))).RootElement.Clone();

    public static TheoryData<string> TreeNames()
    {
        var names = new TheoryData<string>();
        foreach (JsonElement tree in Vectors.GetProperty("trees").EnumerateArray())
            names.Add(tree.GetProperty("name").GetString()!);
        return names;
    }

    private static JsonElement Case(string name) =>
        Vectors.GetProperty("trees").EnumerateArray().Single(t => t.GetProperty("name").GetString() == name);

    private static Hash32 H(JsonElement e) => Hash32.TryParse(e.GetString(), out Hash32 h) ? h : throw new FormatException(e.ToString());

    private static Hash32[] Values(JsonElement c) => c.GetProperty("values").EnumerateArray().Select(H).ToArray();

    [Theory]
    [MemberData(nameof(TreeNames))]
    public void Root_dump_and_proofs_equal_the_library(string name)
    {
        JsonElement c = Case(name);
        Hash32[] values = Values(c);
        StandardMerkleTree tree = StandardMerkleTree.Of(values);

        Assert.Equal(c.GetProperty("root").GetString(), tree.Root.ToString());
        Assert.Equal(c.GetProperty("dump").GetString(), Encoding.UTF8.GetString(tree.Dump()));
        string[] leafHashes = c.GetProperty("leaf_hashes").EnumerateArray().Select(e => e.GetString()!).ToArray();
        Assert.Equal(leafHashes, values.Select(v => StandardMerkleTree.LeafHash(v).ToString()));

        JsonElement[] proofs = c.GetProperty("proofs").EnumerateArray().ToArray();
        for (int i = 0; i < values.Length; i++)
        {
            Hash32[] proof = tree.GetProof(i);
            Assert.Equal(proofs[i].EnumerateArray().Select(e => e.GetString()), proof.Select(p => p.ToString()));
            Assert.True(StandardMerkleTree.Verify(tree.Root, values[i], proof));
        }
    }

    [Theory]
    [MemberData(nameof(TreeNames))]
    public void The_library_dump_loads_and_reproduces_root(string name)
    {
        JsonElement c = Case(name);
        Assert.True(StandardMerkleTree.TryLoad(Encoding.UTF8.GetBytes(c.GetProperty("dump").GetString()!), out StandardMerkleTree? tree, out MerkleDumpError error), error.ToString());
        Assert.Equal(c.GetProperty("root").GetString(), tree!.Root.ToString());
        Assert.Equal(Values(c), tree.Values.ToArray());
    }

    [Fact]
    public void A_changed_value_or_proof_step_does_not_verify()
    {
        Hash32[] values = Values(Case("random-7"));
        StandardMerkleTree tree = StandardMerkleTree.Of(values);
        Hash32[] proof = tree.GetProof(3);
        Hash32 other = values[3];
        other[31] ^= 1;
        Assert.False(StandardMerkleTree.Verify(tree.Root, other, proof));
        proof[^1][0] ^= 0x80;
        Assert.False(StandardMerkleTree.Verify(tree.Root, values[3], proof));
        Assert.False(StandardMerkleTree.Verify(tree.Root, values[3], []));
    }

    [Fact]
    public void An_empty_tree_and_a_bad_index_are_refused()
    {
        Assert.Throws<ArgumentException>(() => StandardMerkleTree.Of([]));
        StandardMerkleTree tree = StandardMerkleTree.Of(Values(Case("random-3")));
        Assert.Throws<ArgumentException>(() => tree.GetProof(3));
        Assert.Throws<ArgumentException>(() => tree.GetProof(-1));
    }

    [Fact]
    public void Every_truncation_of_a_dump_is_refused()
    {
        byte[] dump = Encoding.UTF8.GetBytes(Case("random-3").GetProperty("dump").GetString()!);
        for (int length = 0; length < dump.Length; length++)
            Assert.False(StandardMerkleTree.TryLoad(dump.AsSpan(0, length), out _, out _), $"prefix of {length} bytes loaded");
    }

    [Theory]
    [InlineData("\"format\":\"standard-v1\"", "\"format\":\"standard-v2\"", MerkleDumpError.Format)]
    [InlineData("[\"bytes32\"]", "[\"uint256\"]", MerkleDumpError.LeafEncoding)]
    [InlineData("\"format\"", "\"extra\":1,\"format\"", MerkleDumpError.UnknownMember)]
    [InlineData("\"treeIndex\":", "\"treeIndex\":-", MerkleDumpError.TreeIndex)]
    [InlineData("{\"format\"", "[{\"format\"", MerkleDumpError.NotJson)]
    [InlineData("\"format\":\"standard-v1\"", "\"format\":\"standard-v1\",\"format\":\"standard-v1\"", MerkleDumpError.NotJson)]
    public void Hostile_dumps_are_refused_with_a_reason(string find, string replace, MerkleDumpError expected)
    {
        string dump = Case("random-3").GetProperty("dump").GetString()!;
        int at = dump.IndexOf(find, StringComparison.Ordinal);
        string bad = string.Concat(dump.AsSpan(0, at), replace, dump.AsSpan(at + find.Length));
        Assert.False(StandardMerkleTree.TryLoad(Encoding.UTF8.GetBytes(bad), out _, out MerkleDumpError error));
        Assert.Equal(expected, error);
    }

    [Fact]
    public void A_changed_node_value_or_index_is_caught()
    {
        string dump = Case("random-7").GetProperty("dump").GetString()!;
        StandardMerkleTree tree = StandardMerkleTree.Of(Values(Case("random-7")));

        // An inner node, then a leaf, then a value: each breaks a different check.
        string inner = tree.Nodes[1].ToString();
        Assert.Equal(MerkleDumpError.NodeMismatch, LoadError(dump.Replace(inner, Flip(inner), StringComparison.Ordinal)));
        string value = tree.Values[0].ToString();
        Assert.Equal(MerkleDumpError.LeafMismatch, LoadError(dump.Replace(value, Flip(value), StringComparison.Ordinal)));

        // Two values claiming one leaf would let one proof stand for both.
        string first = $"\"treeIndex\":{tree.TreeIndexOf(0)}}}";
        string second = $"\"treeIndex\":{tree.TreeIndexOf(1)}}}";
        Assert.Equal(MerkleDumpError.TreeIndex, LoadError(dump.Replace(second, first, StringComparison.Ordinal)));
        Assert.Equal(MerkleDumpError.TreeIndex, LoadError(dump.Replace(first, "\"treeIndex\":0}", StringComparison.Ordinal)));
    }

    [Fact]
    public void Oversized_and_mis_sized_dumps_are_refused()
    {
        string dump = Case("random-33").GetProperty("dump").GetString()!;
        Assert.False(StandardMerkleTree.TryLoad(Encoding.UTF8.GetBytes(dump), out _, out MerkleDumpError error, maxValues: 32));
        Assert.Equal(MerkleDumpError.Count, error);

        // One node too few for the values it lists.
        StandardMerkleTree tree = StandardMerkleTree.Of(Values(Case("random-3")));
        string three = Case("random-3").GetProperty("dump").GetString()!;
        string shorter = three.Replace($",\"{tree.Nodes[4]}\"]", "]", StringComparison.Ordinal);
        Assert.Equal(MerkleDumpError.Count, LoadError(shorter));

        // A long run of garbage stays a plain refusal.
        Assert.Equal(MerkleDumpError.NotJson, LoadError(new string('[', 100_000)));
    }

    [Fact]
    public void Leaf_hashing_allocates_nothing()
    {
        Hash32 value = ReceiptSamples.HashOf("leaf");
        StandardMerkleTree.LeafHash(value);
        Assert.Equal(0, AllocationBudget.Fewest(1000, () => value = StandardMerkleTree.NodeHash(StandardMerkleTree.LeafHash(value), value)));
    }

    private static MerkleDumpError LoadError(string dump)
    {
        Assert.False(StandardMerkleTree.TryLoad(Encoding.UTF8.GetBytes(dump), out _, out MerkleDumpError error));
        return error;
    }

    private static string Flip(string hex) => hex[..^1] + (hex[^1] == '0' ? '1' : '0');
}
