using System.Text.Json;
using System.Text.Json.Nodes;
using InfraMind.Node.Tests.Support;

namespace InfraMind.Node.Tests.Crypto;

/// <summary>The node's crypto against vectors made by ethers and @noble/hashes (tests/vectors/).</summary>
public class CryptoVectorTests
{
    private static readonly JsonElement Vectors = CryptoVectors.Load();

    public static TheoryData<string, int> Cases()
    {
        var data = new TheoryData<string, int>();
        foreach (string section in new[] { "keccak256", "addresses", "eip712" })
        {
            int count = Vectors.GetProperty(section).GetArrayLength();
            for (int i = 0; i < count; i++)
                data.Add(section, i);
        }

        return data;
    }

    [Fact]
    public void The_vector_file_covers_every_signed_struct_and_the_keccak_block_edges()
    {
        var types = CryptoVectors.Section(Vectors, "eip712").Select(c => c.GetProperty("primary_type").GetString()).ToHashSet();
        Assert.Equal(new HashSet<string?> { "Job", "Rejection", "Hello", "Receipt", "ReceiptBatch" }, types);
        var lengths = CryptoVectors.Section(Vectors, "keccak256")
            .Select(c => c.TryGetProperty("input", out JsonElement i) ? (i.GetString()!.Length - 2) / 2 : c.GetProperty("length").GetInt32())
            .ToHashSet();
        Assert.Superset(new HashSet<int> { 0, 135, 136, 137, 272, 1 << 20 }, lengths);
        Assert.True(CryptoVectors.Section(Vectors, "addresses").Count() >= 6);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Every_vector_matches_byte_for_byte(string section, int index)
    {
        JsonElement vector = Vectors.GetProperty(section)[index];
        List<string> problems = Check(section, vector);
        Assert.True(problems.Count == 0, $"{section}[{index}] {Name(vector)}: {string.Join("; ", problems)}");
    }

    /// <summary>
    /// Flips one byte (one hex digit, one decimal digit or one character) in every value of every vector in
    /// turn; each change must be caught. This proves the checks above compare every field they are given.
    /// </summary>
    [Theory]
    [MemberData(nameof(Cases))]
    public void Changing_any_one_byte_of_a_vector_is_caught(string section, int index)
    {
        JsonNode original = JsonNode.Parse(Vectors.GetProperty(section)[index].GetRawText())!;
        var missed = new List<string>();
        int mutations = 0;
        foreach (string path in LeafPaths(original, ""))
        {
            JsonNode mutated = original.DeepClone();
            MutateLeaf(mutated, path);
            mutations++;
            bool caught;
            try
            {
                caught = Check(section, JsonDocument.Parse(mutated.ToJsonString()).RootElement).Count > 0;
            }
            catch (Exception e) when (e is InvalidDataException or FormatException or ArgumentException or OverflowException)
            {
                caught = true; // the mutated value no longer even parses: also a failure the tests would show
            }

            if (!caught)
                missed.Add(path);
        }

        Assert.True(mutations > 0);
        Assert.True(missed.Count == 0, $"{section}[{index}]: a one-byte change went unnoticed in {string.Join(", ", missed)}");
    }

    private static List<string> Check(string section, JsonElement vector) => section switch
    {
        "keccak256" => VectorChecks.KeccakCase(vector),
        "addresses" => VectorChecks.AddressCase(vector),
        _ => VectorChecks.TypedDataCase(vector),
    };

    private static string Name(JsonElement vector) => vector.TryGetProperty("name", out JsonElement n) ? n.GetString()! : string.Empty;

    // Every leaf value except the descriptive "name" labels and the domain's own name/version
    // strings, which are covered by the domain separator check anyway (and are mutated too).
    private static IEnumerable<string> LeafPaths(JsonNode node, string prefix)
    {
        if (node is JsonObject obj)
        {
            foreach (KeyValuePair<string, JsonNode?> property in obj)
            {
                if (prefix.Length == 0 && property.Key == "name")
                    continue;
                foreach (string path in LeafPaths(property.Value!, prefix.Length == 0 ? property.Key : $"{prefix}.{property.Key}"))
                    yield return path;
            }
        }
        else
        {
            yield return prefix;
        }
    }

    private static void MutateLeaf(JsonNode root, string path)
    {
        string[] parts = path.Split('.');
        JsonObject parent = root.AsObject();
        for (int i = 0; i < parts.Length - 1; i++)
            parent = parent[parts[i]]!.AsObject();
        JsonNode leaf = parent[parts[^1]]!;
        parent[parts[^1]] = leaf.GetValueKind() == JsonValueKind.Number
            ? JsonValue.Create(leaf.GetValue<int>() + 1)
            : JsonValue.Create(MutateText(leaf.GetValue<string>()));
    }

    private static string MutateText(string text)
    {
        if (text.StartsWith("0x", StringComparison.Ordinal) && text.Length > 2)
        {
            // Change the last hex digit: one byte differs, and case (the EIP-55 checksum) is kept.
            char last = text[^1];
            char replacement = last switch { '0' => '1', 'f' => 'e', 'F' => 'E', _ => (char)(last - 1) };
            if (last is 'a' or 'A')
                replacement = (char)(last + 1);
            return text[..^1] + replacement;
        }

        if (text.Length > 0 && char.IsAsciiDigit(text[^1]) && text.All(char.IsAsciiDigit))
            return text[..^1] + (text[^1] == '9' ? '8' : (char)(text[^1] + 1));
        return text.Length == 0 ? "x" : (text[0] == 'x' ? 'y' : 'x') + text[1..];
    }
}
