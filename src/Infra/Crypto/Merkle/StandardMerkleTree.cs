using System.Buffers;
using System.Text.Json;

namespace InfraMind.Node.Crypto.Merkle;

/// <summary>
/// OpenZeppelin's <c>StandardMerkleTree.of(values, ["bytes32"])</c> from <c>@openzeppelin/merkle-tree</c> 1.x,
/// reproduced node for node so its <c>load(dump)</c> accepts what this writes:
/// leaf = keccak256(keccak256(value)) (abi.encode of one bytes32 is the 32 bytes themselves); leaves sorted
/// ascending (stable, so equal values keep their order); the tree is an array of 2n-1 nodes with the root at
/// 0, the children of i at 2i+1 and 2i+2, and sorted leaf k at index length-1-k; a parent is keccak256 of its
/// two children in ascending order.
/// </summary>
public sealed class StandardMerkleTree
{
    public const string Format = "standard-v1";
    public const string LeafEncoding = "bytes32";

    private readonly Hash32[] _tree;
    private readonly Hash32[] _values;
    private readonly int[] _treeIndex;

    private StandardMerkleTree(Hash32[] tree, Hash32[] values, int[] treeIndex)
    {
        _tree = tree;
        _values = values;
        _treeIndex = treeIndex;
    }

    public Hash32 Root => _tree[0];

    /// <summary>How many values (leaves) the tree holds.</summary>
    public int Count => _values.Length;

    /// <summary>The 2n-1 nodes in the library's array layout.</summary>
    public ReadOnlySpan<Hash32> Nodes => _tree;

    /// <summary>The values in the order they were given (the dump's <c>values</c> order).</summary>
    public ReadOnlySpan<Hash32> Values => _values;

    /// <summary>Where value <paramref name="valueIndex"/>'s leaf sits in <see cref="Nodes"/>.</summary>
    public int TreeIndexOf(int valueIndex) => _treeIndex[valueIndex];

    /// <summary>Builds the tree of <paramref name="values"/>; at least one value is needed, as in the library.</summary>
    public static StandardMerkleTree Of(ReadOnlySpan<Hash32> values)
    {
        if (values.IsEmpty)
            ThrowHelper.ThrowArgument(nameof(values), "a Merkle tree needs at least one value; build a batch only when there are receipts");

        int n = values.Length;
        var leaves = new (Hash32 Hash, int ValueIndex)[n];
        for (int i = 0; i < n; i++)
            leaves[i] = (LeafHash(values[i]), i);

        // Array.Sort is not stable; the value index breaks ties so equal leaves keep their order like JS sort.
        Array.Sort(leaves, static (a, b) =>
        {
            int c = ((ReadOnlySpan<byte>)a.Hash).SequenceCompareTo(b.Hash);
            return c != 0 ? c : a.ValueIndex.CompareTo(b.ValueIndex);
        });

        var tree = new Hash32[(2 * n) - 1];
        var treeIndex = new int[n];
        for (int k = 0; k < n; k++)
        {
            int at = tree.Length - 1 - k;
            tree[at] = leaves[k].Hash;
            treeIndex[leaves[k].ValueIndex] = at;
        }

        for (int i = tree.Length - 1 - n; i >= 0; i--)
            tree[i] = NodeHash(tree[(2 * i) + 1], tree[(2 * i) + 2]);

        return new StandardMerkleTree(tree, values.ToArray(), treeIndex);
    }

    /// <summary>The sibling hashes from value <paramref name="valueIndex"/>'s leaf up to the root.</summary>
    public Hash32[] GetProof(int valueIndex)
    {
        if ((uint)valueIndex >= (uint)_values.Length)
            ThrowHelper.ThrowArgument(nameof(valueIndex), $"value index {valueIndex} is outside the tree's {_values.Length} values");

        int depth = 0;
        for (int i = _treeIndex[valueIndex]; i > 0; i = (i - 1) / 2)
            depth++;
        var proof = new Hash32[depth];
        int index = _treeIndex[valueIndex];
        for (int d = 0; d < depth; d++)
        {
            // Odd indices are left children, so their sibling is the next node; even ones the previous.
            proof[d] = _tree[(index % 2 == 1) ? index + 1 : index - 1];
            index = (index - 1) / 2;
        }

        return proof;
    }

    /// <summary><c>StandardMerkleTree.verify(root, ["bytes32"], [value], proof)</c>.</summary>
    public static bool Verify(in Hash32 root, in Hash32 value, ReadOnlySpan<Hash32> proof)
    {
        Hash32 node = LeafHash(value);
        foreach (ref readonly Hash32 sibling in proof)
            node = NodeHash(node, sibling);
        return node == root;
    }

    /// <summary>keccak256(keccak256(value)): the double hash keeps a leaf from being passed off as an inner node.</summary>
    public static Hash32 LeafHash(in Hash32 value)
    {
        Hash32 inner = Keccak256.Hash(value);
        return Keccak256.Hash(inner);
    }

    /// <summary>keccak256 of the two children, smaller first, so a proof needs no left/right flags.</summary>
    public static Hash32 NodeHash(in Hash32 a, in Hash32 b)
    {
        bool aFirst = ((ReadOnlySpan<byte>)a).SequenceCompareTo(b) <= 0;
        var keccak = default(Keccak256);
        if (aFirst)
        {
            keccak.Append(a);
            keccak.Append(b);
        }
        else
        {
            keccak.Append(b);
            keccak.Append(a);
        }

        Hash32 hash = default;
        keccak.Finish(hash);
        return hash;
    }

    /// <summary>
    /// The library's <c>JSON.stringify(tree.dump())</c>:
    /// <c>{"format":"standard-v1","leafEncoding":["bytes32"],"tree":[...],"values":[{"value":["0x…"],"treeIndex":N},...]}</c>.
    /// </summary>
    public void WriteDump(Utf8JsonWriter json)
    {
        Span<char> hex = stackalloc char[2 + (Hash32.Size * 2)];
        json.WriteStartObject();
        json.WriteString("format"u8, Format);
        json.WriteStartArray("leafEncoding"u8);
        json.WriteStringValue(LeafEncoding);
        json.WriteEndArray();
        json.WriteStartArray("tree"u8);
        foreach (Hash32 node in _tree)
        {
            Hex.Encode(node, hex);
            json.WriteStringValue(hex);
        }

        json.WriteEndArray();
        json.WriteStartArray("values"u8);
        for (int i = 0; i < _values.Length; i++)
        {
            json.WriteStartObject();
            json.WriteStartArray("value"u8);
            Hex.Encode(_values[i], hex);
            json.WriteStringValue(hex);
            json.WriteEndArray();
            json.WriteNumber("treeIndex"u8, _treeIndex[i]);
            json.WriteEndObject();
        }

        json.WriteEndArray();
        json.WriteEndObject();
    }

    /// <summary>The dump as compact UTF-8 JSON.</summary>
    public byte[] Dump()
    {
        var buffer = new ArrayBufferWriter<byte>(256 + (_tree.Length * 70) + (_values.Length * 100));
        using (var json = new Utf8JsonWriter(buffer))
            WriteDump(json);
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>
    /// Reads a dump the way <c>StandardMerkleTree.load</c> does and then checks it as <c>validate()</c> does:
    /// every value's leaf is where its treeIndex says and every inner node is the hash of its children.
    /// Unknown members, duplicate members, other leaf encodings and trees over <paramref name="maxValues"/>
    /// values are refused.
    /// </summary>
    public static bool TryLoad(ReadOnlySpan<byte> dump, out StandardMerkleTree? tree, out MerkleDumpError error, int maxValues = 1 << 20)
    {
        tree = null;
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(dump.ToArray(), StrictJson);
        }
        catch (JsonException)
        {
            error = MerkleDumpError.NotJson;
            return false;
        }

        using (document)
        {
            error = Read(document.RootElement, maxValues, out tree);
            return error == MerkleDumpError.None;
        }
    }

    internal static JsonDocumentOptions StrictJson => new()
    {
        AllowDuplicateProperties = false,
        AllowTrailingCommas = false,
        CommentHandling = JsonCommentHandling.Disallow,
        MaxDepth = 16,
    };

    internal static MerkleDumpError Read(JsonElement root, int maxValues, out StandardMerkleTree? tree)
    {
        tree = null;
        if (root.ValueKind != JsonValueKind.Object)
            return MerkleDumpError.Shape;

        JsonElement format = default, encoding = default, nodes = default, values = default;
        foreach (JsonProperty member in root.EnumerateObject())
        {
            switch (member.Name)
            {
                case "format": format = member.Value; break;
                case "leafEncoding": encoding = member.Value; break;
                case "tree": nodes = member.Value; break;
                case "values": values = member.Value; break;
                default: return MerkleDumpError.UnknownMember;
            }
        }

        if (format.ValueKind != JsonValueKind.String || !format.ValueEquals(Format))
            return MerkleDumpError.Format;
        if (encoding.ValueKind != JsonValueKind.Array || encoding.GetArrayLength() != 1
            || encoding[0].ValueKind != JsonValueKind.String || !encoding[0].ValueEquals(LeafEncoding))
            return MerkleDumpError.LeafEncoding;
        if (nodes.ValueKind != JsonValueKind.Array || values.ValueKind != JsonValueKind.Array)
            return MerkleDumpError.Shape;

        int n = values.GetArrayLength();
        if (n == 0 || n > maxValues)
            return MerkleDumpError.Count;
        if (nodes.GetArrayLength() != (2 * n) - 1)
            return MerkleDumpError.Count;

        var tree0 = new Hash32[(2 * n) - 1];
        int i = 0;
        foreach (JsonElement node in nodes.EnumerateArray())
        {
            if (!TryHash(node, out tree0[i++]))
                return MerkleDumpError.Hash;
        }

        var vals = new Hash32[n];
        var treeIndex = new int[n];
        var used = new bool[tree0.Length];
        i = 0;
        foreach (JsonElement entry in values.EnumerateArray())
        {
            if (entry.ValueKind != JsonValueKind.Object)
                return MerkleDumpError.Shape;
            JsonElement value = default, index = default;
            foreach (JsonProperty member in entry.EnumerateObject())
            {
                switch (member.Name)
                {
                    case "value": value = member.Value; break;
                    case "treeIndex": index = member.Value; break;
                    default: return MerkleDumpError.UnknownMember;
                }
            }

            if (value.ValueKind != JsonValueKind.Array || value.GetArrayLength() != 1 || !TryHash(value[0], out vals[i]))
                return MerkleDumpError.Hash;

            // A leaf lives in the last n slots; two values on one leaf would let one proof stand for both.
            if (index.ValueKind != JsonValueKind.Number || !index.TryGetInt32(out int at)
                || at < n - 1 || at >= tree0.Length || used[at])
                return MerkleDumpError.TreeIndex;
            used[at] = true;
            treeIndex[i] = at;
            if (LeafHash(vals[i]) != tree0[at])
                return MerkleDumpError.LeafMismatch;
            i++;
        }

        for (int p = n - 2; p >= 0; p--)
        {
            if (NodeHash(tree0[(2 * p) + 1], tree0[(2 * p) + 2]) != tree0[p])
                return MerkleDumpError.NodeMismatch;
        }

        tree = new StandardMerkleTree(tree0, vals, treeIndex);
        return MerkleDumpError.None;
    }

    // The library accepts any hex string; this reads what it writes: 0x + 64 hex digits.
    private static bool TryHash(JsonElement element, out Hash32 hash)
    {
        hash = default;
        return element.ValueKind == JsonValueKind.String
            && element.GetString() is { Length: 66 } text
            && Hash32.TryParse(text, out hash);
    }
}

/// <summary>Why a Merkle dump was refused.</summary>
public enum MerkleDumpError
{
    None,
    NotJson,
    Shape,
    UnknownMember,
    Format,
    LeafEncoding,
    Count,
    Hash,
    TreeIndex,
    LeafMismatch,
    NodeMismatch,
}
