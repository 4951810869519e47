using System.Text;

namespace InfraMind.Node.Tests.Examples;

/// <summary>
/// `embedder stdio` on the host against the independent Python reference (examples/embedder/reference.py),
/// plus properties of the algorithm that neither implementation is trusted to state about itself.
/// </summary>
public class EmbedderReferenceTests
{
    /// <summary>Texts for the comparison: empty, separators only, ASCII, accents, CJK, emoji, controls, long.</summary>
    public static readonly IReadOnlyList<string> Texts =
    [
        "",
        " ",
        ",;!? \t\r\n",
        "a",
        "ab",
        "Hello, World!",
        "The quick brown fox jumps over the lazy dog 1234567890",
        "Grüße aus Köln, naïve café",
        "日本語のテキストを埋め込む",
        "emoji 🚀🔥 and 👩‍👩‍👧 families",
        "tabs\tand\nnewlines\r\nand \"quotes\" and \\backslashes\\ and \u0000 nul and \u007f del",
        "ÀÉÎÕÜ are not lowercased: only ASCII is",
        string.Concat(Enumerable.Repeat("repeated words make large counts ", 3000)),
        LongText(1 << 20),
    ];

    [Fact]
    public void The_binary_and_the_python_reference_agree_within_1e_6()
    {
        IReadOnlyList<double[]> reference = EmbedderArtifacts.Reference(Texts);
        for (int i = 0; i < Texts.Count; i++)
        {
            double[] actual = Stdio(Texts[i]);
            EmbedderArtifacts.AssertClose(reference[i], actual, $"text #{i} ({Encoding.UTF8.GetByteCount(Texts[i])} bytes)");
        }
    }

    [Fact]
    public void A_single_trigram_lands_in_the_bucket_fnv1a_names_with_its_sign()
    {
        // " a " is the only trigram of "a"; FNV-1a 32 computed here, a third implementation of the hash.
        uint h = 2166136261;
        foreach (byte b in " a "u8)
            h = (h ^ b) * 16777619;
        double[] v = Stdio("A");
        for (int i = 0; i < v.Length; i++)
            Assert.Equal(i == (int)(h % 256) ? ((h >> 8 & 1) == 1 ? 1.0 : -1.0) : 0.0, v[i]);
    }

    [Fact]
    public void Case_punctuation_and_runs_of_spaces_do_not_change_the_embedding_but_order_does()
    {
        Assert.Equal(StdioText("hello world"), StdioText("  Hello,\t\tWORLD!!! "));
        Assert.NotEqual(StdioText("hello world"), StdioText("world hello"));
        Assert.NotEqual(StdioText("hello world"), StdioText("hello worlds"));
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("!@#$%^&*()_+-=[]{}|;':\",./<>?`~\t\r\n")]
    public void Text_without_letters_digits_or_non_ascii_embeds_to_all_zeros(string text)
    {
        Assert.Equal("[" + string.Join(',', Enumerable.Repeat("0", 256)) + "]\n", StdioText(text));
    }

    [Fact]
    public void Every_non_empty_embedding_has_unit_length_and_prints_as_compact_json()
    {
        foreach (string text in Texts.Where(t => t.Any(char.IsLetterOrDigit)))
        {
            string json = StdioText(text);
            Assert.EndsWith("]\n", json, StringComparison.Ordinal);
            Assert.DoesNotContain(' ', json);
            double norm = Math.Sqrt(EmbedderArtifacts.ParseVector(json).Sum(x => x * x));
            Assert.InRange(norm, 1 - 1e-5, 1 + 1e-5);
        }
    }

    [Fact]
    public void Exactly_1_MiB_is_embedded_and_one_byte_more_is_refused_with_exit_3()
    {
        byte[] limit = Encoding.ASCII.GetBytes(LongText(1 << 20));
        Assert.Equal(1 << 20, limit.Length);
        (int ok, _, _) = EmbedderArtifacts.Run(EmbedderArtifacts.Binary, ["stdio"], limit, TimeSpan.FromSeconds(30));
        Assert.Equal(0, ok);

        (int exit, string stdout, string stderr) = EmbedderArtifacts.Run(EmbedderArtifacts.Binary, ["stdio"], [.. limit, (byte)'x'], TimeSpan.FromSeconds(30));
        Assert.Equal(3, exit);
        Assert.Empty(stdout);
        Assert.Contains("at most 1 MiB", stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("")]
    [InlineData("serve")]
    [InlineData("serve 0")]
    [InlineData("serve 70000")]
    [InlineData("serve 80x")]
    [InlineData("stdio extra")]
    [InlineData("embed")]
    public void Bad_arguments_print_the_usage_and_exit_64(string arguments)
    {
        string[] args = arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        (int exit, _, string stderr) = EmbedderArtifacts.Run(EmbedderArtifacts.Binary, args, [], TimeSpan.FromSeconds(10));
        Assert.Equal(64, exit);
        Assert.Contains("usage: embedder stdio", stderr, StringComparison.Ordinal);
    }

    /// <summary>Deterministic mixed text of exactly <paramref name="bytes"/> ASCII bytes.</summary>
    internal static string LongText(int bytes)
    {
        var text = new StringBuilder(bytes);
        var random = new Random(6);
        const string alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789      .,;";
        while (text.Length < bytes)
            text.Append(alphabet[random.Next(alphabet.Length)]);
        return text.ToString();
    }

    private static double[] Stdio(string text) => EmbedderArtifacts.ParseVector(StdioText(text));

    private static string StdioText(string text)
    {
        (int exit, string stdout, string stderr) = EmbedderArtifacts.Run(EmbedderArtifacts.Binary, ["stdio"], Encoding.UTF8.GetBytes(text), TimeSpan.FromSeconds(30));
        Assert.True(exit == 0, $"embedder stdio exited {exit}: {stderr}");
        return stdout;
    }
}
