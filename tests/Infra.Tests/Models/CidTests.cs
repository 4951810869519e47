using System.Text;
using InfraMind.Node.Models.Content;

namespace InfraMind.Node.Tests.Models;

public class MultibaseTests
{
    [Theory]
    [InlineData("", "")]
    [InlineData("hello world", "StV1DL6CwTryKyV")]
    [InlineData("yes mani !", "7paNL19xttacUY")]
    [InlineData("\0yes mani !", "17paNL19xttacUY")]
    [InlineData("\0\0yes mani !", "117paNL19xttacUY")]
    [InlineData("Decentralize everything!!", "UXE7GvtEk8XTXs1GF8HSGbVA9FCX9SEBPe")]
    public void Base58btc_matches_the_multibase_vectors(string text, string encoded)
    {
        byte[] bytes = Encoding.Latin1.GetBytes(text);
        Assert.Equal(encoded, Base58Btc.Encode(bytes));
        Assert.Equal(bytes, Base58Btc.TryDecode(encoded, out _));
    }

    [Theory]
    [InlineData("", "")]
    [InlineData("f", "my")]
    [InlineData("fo", "mzxq")]
    [InlineData("foo", "mzxw6")]
    [InlineData("foob", "mzxw6yq")]
    [InlineData("fooba", "mzxw6ytb")]
    [InlineData("foobar", "mzxw6ytboi")]
    [InlineData("yes mani !", "pfsxgidnmfxgsibb")]
    public void Base32_matches_the_rfc4648_vectors_lowercase_unpadded(string text, string encoded)
    {
        byte[] bytes = Encoding.Latin1.GetBytes(text);
        Assert.Equal(encoded, Base32.Encode(bytes));
        Assert.Equal(bytes, Base32.TryDecode(encoded, upperCase: false, out _));
        Assert.Equal(bytes, Base32.TryDecode(encoded.ToUpperInvariant(), upperCase: true, out _));
    }

    [Fact]
    public void Both_round_trip_every_length_and_leading_zeros()
    {
        var random = new Random(7);
        for (int length = 0; length < 80; length++)
        {
            for (int zeros = 0; zeros <= Math.Min(length, 3); zeros++)
            {
                var bytes = new byte[length];
                random.NextBytes(bytes);
                bytes.AsSpan(0, zeros).Clear();
                Assert.Equal(bytes, Base58Btc.TryDecode(Base58Btc.Encode(bytes), out _));
                Assert.Equal(bytes, Base32.TryDecode(Base32.Encode(bytes), upperCase: false, out _));
            }
        }
    }

    [Theory]
    [InlineData("m", -1)] // 5 bits: no byte, too many left over
    [InlineData("mzx", -1)] // 15 bits: one byte and 7 left over
    [InlineData("mzxw6y", -1)] // 30 bits
    [InlineData("mz", -1)] // the last character's unused bits are not zero
    [InlineData("mY", 1)] // the other case
    [InlineData("my=", 2)] // padding
    [InlineData("m1", 1)] // not in the alphabet
    [InlineData("m8", 1)]
    public void Base32_refuses_non_canonical_text(string text, int badIndex)
    {
        Assert.Null(Base32.TryDecode(text, upperCase: false, out int bad));
        Assert.Equal(badIndex, bad);
    }

    [Theory]
    [InlineData("0", 0)]
    [InlineData("abcO", 3)]
    [InlineData("I", 0)]
    [InlineData("l1", 0)]
    [InlineData("ab+", 2)]
    [InlineData("abé", 2)]
    public void Base58btc_refuses_characters_outside_its_alphabet(string text, int badIndex)
    {
        Assert.Null(Base58Btc.TryDecode(text, out int bad));
        Assert.Equal(badIndex, bad);
    }
}

public class CidTests
{
    private const string EmptyDirV0 = "QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn";
    private const string EmptyDirV1 = "bafybeiczsscdsbs7ffqz55asqdf3smv6klcw3gofszvwlyarci47bgf354";

    /// <summary>PBNode { Data: UnixFS { Type: Directory } }.</summary>
    private static readonly byte[] EmptyDirectory = [0x0A, 0x02, 0x08, 0x01];

    [Fact]
    public void The_empty_directory_has_the_same_node_under_v0_and_v1()
    {
        Cid v0 = Cid.Parse(EmptyDirV0);
        Cid v1 = Cid.Parse(EmptyDirV1);
        Assert.Equal((0, CidCodec.DagPb), (v0.Version, v0.Codec));
        Assert.Equal((1, CidCodec.DagPb), (v1.Version, v1.Codec));
        Assert.Equal(EmptyDirV0, v0.ToString());
        Assert.Equal(EmptyDirV1, v1.ToString());
        Assert.True(v0.SameContent(v1));
        Assert.NotEqual(v0, v1);
        Assert.Equal(v1, v0.ToV1());
        Assert.True(v0.Verifies(EmptyDirectory));
        Assert.True(v1.Verifies(EmptyDirectory));
        Assert.False(v1.Verifies([0x0A, 0x02, 0x08, 0x02]));
        Assert.Equal(v1, Cid.ForBlock(CidCodec.DagPb, EmptyDirectory));
    }

    [Fact]
    public void The_empty_raw_block_has_its_well_known_cid()
    {
        Assert.Equal("bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku", Cid.ForBlock(CidCodec.Raw, []).ToString());
    }

    [Fact]
    public void Uppercase_base32_and_base58btc_v1_parse_and_print_as_lowercase_base32()
    {
        Cid v1 = Cid.Parse(EmptyDirV1);
        Assert.Equal(v1, Cid.Parse(EmptyDirV1.ToUpperInvariant()));
        string z = "z" + Base58Btc.Encode(v1.ToBytes());
        Assert.StartsWith("zdj7W", z, StringComparison.Ordinal);
        Assert.Equal(v1, Cid.Parse(z));
        Assert.Equal(EmptyDirV1, Cid.Parse(z).ToString());
    }

    [Fact]
    public void The_binary_form_round_trips_and_reports_what_it_used()
    {
        foreach (Cid cid in new[] { Cid.Parse(EmptyDirV0), Cid.Parse(EmptyDirV1), Cid.ForBlock(CidCodec.Raw, [1, 2, 3]) })
        {
            byte[] bytes = cid.ToBytes();
            Assert.Equal(cid.BinaryLength, bytes.Length);
            Assert.Equal(cid.Version == 0 ? 34 : 36, bytes.Length);
            Cid read = Cid.Read([.. bytes, 0xAA, 0xBB], out int consumed);
            Assert.Equal(bytes.Length, consumed);
            Assert.Equal(cid, read);
            Assert.Equal(cid.GetHashCode(), read.GetHashCode());
            for (int cut = 0; cut < bytes.Length; cut++)
            {
                var e = Assert.Throws<BundleException>(() => Cid.Read(bytes.AsSpan(0, cut), out _));
                Assert.Equal(BundleError.BadAddress, e.Error);
            }
        }
    }

    [Theory]
    [InlineData("", BundleError.BadAddress, "empty")]
    [InlineData("Qm", BundleError.BadAddress, "46")]
    [InlineData("QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3N", BundleError.BadAddress, "46")]
    [InlineData("QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3NnX", BundleError.BadAddress, "46")]
    [InlineData("QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3N0", BundleError.BadAddress, "'0' at position 45")]
    [InlineData("QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfOHbsf67hvA3N", BundleError.BadAddress, "'O'")]
    [InlineData("bafybeiczsscdsbs7ffqz55asqdf3smv6klcw3gofszvwlyarci47bgf35", BundleError.BadAddress, "canonical")]
    [InlineData("bafybeiczsscdsbs7ffqz55asqdf3smv6klcw3gofszvwlyarci47bgf355", BundleError.BadAddress, "canonical")]
    [InlineData("bafybeiczsscdsbs7ffqz55asqdf3smv6klcw3gofszvwlyarci47bgf3A4", BundleError.BadAddress, "'A'")]
    [InlineData("bafybeiczsscdsbs7ffqz55asqdf3smv6klcw3gofszvwlyarci47bgf354=", BundleError.BadAddress, "'='")]
    [InlineData("bafybeiczsscdsbs7ffqz55asqdf3smv6klcw3gofszvwlyarci47bgf351", BundleError.BadAddress, "'1'")]
    [InlineData("bafybeiczsscdsbs7ffqz55asqdf3smv6klcw3gofszvwlyarci47bgf", BundleError.BadAddress, "canonical")]
    [InlineData("b", BundleError.BadAddress, "empty")]
    [InlineData("f01701220c3c4733ec8affd06cf9e9ff50ffc6bcd2ec85a6170004bb709669c31de94391a", BundleError.UnsupportedAddress, "base16")]
    [InlineData("kbafy", BundleError.UnsupportedAddress, "base36")]
    [InlineData("mAXASIA", BundleError.UnsupportedAddress, "base64")]
    [InlineData("!abc", BundleError.BadAddress, "no multibase prefix")]
    [InlineData(" QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn", BundleError.BadAddress, "no multibase prefix")]
    [InlineData("bafkqaaa", BundleError.UnsupportedAddress, "identity")]
    public void Malformed_and_unsupported_cid_strings_are_refused_by_name(string text, BundleError kind, string why)
    {
        Assert.False(Cid.TryParse(text, out Cid? cid, out BundleError error, out string message));
        Assert.Null(cid);
        Assert.Equal(kind, error);
        Assert.Contains(why, message, StringComparison.Ordinal);
        var e = Assert.Throws<BundleException>(() => Cid.Parse(text));
        Assert.Equal(kind, e.Error);
    }

    public static TheoryData<byte[], BundleError, string> BadBinaries()
    {
        byte[] digest = new byte[32];
        digest[0] = 0xAB;
        return new TheoryData<byte[], BundleError, string>
        {
            { [1, 0x71, 0x12, 0x20, .. digest], BundleError.UnsupportedAddress, "dag-cbor" },
            { [1, 0xA9, 0x02, 0x12, 0x20, .. digest], BundleError.UnsupportedAddress, "dag-json" },
            { [1, 0x55, 0x00, 0x03, 1, 2, 3], BundleError.UnsupportedAddress, "identity" },
            { [1, 0x55, 0x13, 0x40, .. digest, .. digest], BundleError.UnsupportedAddress, "sha2-512" },
            { [1, 0x55, 0xA0, 0xE4, 0x02, 0x20, .. digest], BundleError.UnsupportedAddress, "blake2b-256" },
            { [1, 0x55, 0x1E, 0x20, .. digest], BundleError.UnsupportedAddress, "blake3" },
            { [1, 0x55, 0x12, 0x10, .. digest[..16]], BundleError.UnsupportedAddress, "truncated to 16 bytes" },
            { [1, 0x55, 0x12, 0x21, .. digest, 0], BundleError.BadAddress, "must be 32" },
            { [2, 0x55, 0x12, 0x20, .. digest], BundleError.BadAddress, "version 2 does not exist" },
            { [0, 0x55, 0x12, 0x20, .. digest], BundleError.BadAddress, "version 0" },
            { [1, 0xD5, 0x00, 0x12, 0x20, .. digest], BundleError.BadAddress, "shortest form" },
            { [1, 0x55, 0x12, 0x20, .. digest, 0x00], BundleError.BadAddress, "after the digest" },
            { [0x12, 0x20, .. digest], BundleError.BadAddress, "CIDv0 behind a multibase prefix" },
            { [1, 0x55, 0x12, 0x20, .. digest[..31]], BundleError.BadAddress, "digest" },
        };
    }

    [Theory]
    [MemberData(nameof(BadBinaries))]
    public void Malformed_and_unsupported_binaries_are_refused_in_base32_and_base58(byte[] binary, BundleError kind, string why)
    {
        foreach (string text in new[] { "b" + Base32.Encode(binary), "z" + Base58Btc.Encode(binary) })
        {
            Assert.False(Cid.TryParse(text, out _, out BundleError error, out string message));
            Assert.Equal(kind, error);
            Assert.Contains(why, message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void A_v0_multihash_with_the_wrong_length_is_refused_in_binary()
    {
        var e = Assert.Throws<BundleException>(() => Cid.Read([0x12, 0x40, .. new byte[64]], out _));
        Assert.Equal(BundleError.BadAddress, e.Error);
        Assert.Contains("must be 32", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Create_refuses_impossible_combinations()
    {
        Assert.Throws<ArgumentException>(() => Cid.Create(0, CidCodec.Raw, new byte[32]));
        Assert.Throws<ArgumentException>(() => Cid.Create(2, CidCodec.Raw, new byte[32]));
        Assert.Throws<ArgumentException>(() => Cid.Create(1, CidCodec.Raw, new byte[31]));
        Assert.Equal(EmptyDirV0, Cid.Create(0, CidCodec.DagPb, Cid.Parse(EmptyDirV1).Digest).ToString());
    }
}

public class ContentAddressTests
{
    [Fact]
    public void A_cid_and_a_sha256_are_both_addresses()
    {
        Assert.True(ContentAddress.TryParse("QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn", out ContentAddress? cid, out _));
        Assert.True(cid!.IsCid);
        Assert.Equal("QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn", cid.ToString());

        string hex = new('a', 64);
        Assert.True(ContentAddress.TryParse("sha256:" + hex.ToUpperInvariant(), out ContentAddress? sha, out _));
        Assert.False(sha!.IsCid);
        Assert.Equal("sha256:" + hex, sha.ToString());
        Assert.Equal(sha, ContentAddress.Parse("sha256:" + hex));
        Assert.Equal((byte)0xAA, sha.Sha256[31]);
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("   ", "empty")]
    [InlineData("sha256:", "exactly 64 hex")]
    [InlineData("sha256:abc", "exactly 64 hex")]
    [InlineData("sha256:0xaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "exactly 64 hex")]
    [InlineData("sha256:gggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggg", "exactly 64 hex")]
    [InlineData("sha512:aaaa", "a model_hash is a CID")]
    [InlineData("0xaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "a model_hash is a CID")]
    [InlineData("llama-3-8b", "a model_hash is a CID")]
    public void Anything_else_is_refused_with_the_accepted_forms(string text, string expected)
    {
        Assert.False(ContentAddress.TryParse(text, out ContentAddress? address, out string error));
        Assert.Null(address);
        Assert.Contains(expected, error, StringComparison.Ordinal);
        Assert.Throws<BundleException>(() => ContentAddress.Parse(text));
    }

    [Fact]
    public void An_unsupported_cid_says_so()
    {
        Assert.False(ContentAddress.TryParse("bafkqaaa", out _, out BundleError kind, out string error));
        Assert.Equal(BundleError.UnsupportedAddress, kind);
        Assert.Contains("identity", error, StringComparison.Ordinal);
    }
}
