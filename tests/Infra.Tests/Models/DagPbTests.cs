using System.Text;
using InfraMind.Node.Models.Content;
using static InfraMind.Node.Tests.Models.CarBuilder;

namespace InfraMind.Node.Tests.Models;

public class DagPbTests
{
    private static readonly Cid Leaf = Cid.ForBlock(CidCodec.Raw, [1, 2, 3]);

    [Fact]
    public void A_node_decodes_links_in_order_with_names_and_sizes_and_its_data()
    {
        Cid other = Cid.Parse("QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn");
        byte[] block = PbNodeBytes([Link(Leaf, "a.bin", 3), Link(other, null, null)], UnixFsBytes(1));
        PbNode node = DagPb.Decode(block);
        Assert.Equal(2, node.Links.Count);
        Assert.Equal(new PbLink(Leaf, "a.bin", 3), node.Links[0]);
        Assert.Equal(new PbLink(other, null, null), node.Links[1]);
        Assert.Equal(UnixFsBytes(1), node.Data!.Value.ToArray());
    }

    [Fact]
    public void Data_before_links_and_unknown_fields_of_every_skippable_wire_type_are_read()
    {
        byte[] block = new Proto()
            .Field(1, UnixFsBytes(2, [9, 9]))
            .Field(7, 300)
            .Tag(8, 1).Raw(new byte[8])
            .Tag(9, 5).Raw(new byte[4])
            .Field(10, [1, 2, 3])
            .Field(2, Link(Leaf, "x", 3))
            .ToArray();
        PbNode node = DagPb.Decode(block);
        Assert.Single(node.Links);
        UnixFsData data = UnixFs.Decode(node.Data!.Value);
        Assert.Equal(UnixFsType.File, data.Type);
        Assert.Equal([9, 9], data.Data.ToArray());
    }

    [Fact]
    public void A_node_without_data_has_null_data()
    {
        Assert.Null(DagPb.Decode(PbNodeBytes([Link(Leaf, "", 3)], null)).Data);
        Assert.Empty(DagPb.Decode(Array.Empty<byte>()).Links);
    }

    public static TheoryData<byte[], string> BadNodes() => new()
    {
        { [0x12, 0x05, 0x0A], "5 bytes but only 1 remain" },
        { [0x0A, 0x80], "ends inside a varint" },
        { [0x0A, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F], "over 64 bits" },
        { [0x0A, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x02], "over 64 bits" },
        { [0x0B], "group" },
        { [0x0C], "group" },
        { [0x0E], "wire type 6" },
        { [0x08, 0x01], "field 1 has wire type 0; it must be 2" },
        { [0x00, 0x00], "field number 0" },
        { [0x1D, 1, 2], "ends inside a 4-byte fixed field" },
        { [0x19, 1, 2, 3, 4, 5, 6, 7], "ends inside a 8-byte fixed field" },
        { [0x09, 1, 2, 3, 4, 5, 6, 7, 8], "field 1 has wire type 1; it must be 2" },
        { [0x0A, 0x00, 0x0A, 0x00], "two Data fields" },
        { new Proto().Field(2, new Proto().Field(2, "x"u8.ToArray()).ToArray()).ToArray(), "no Hash" },
        { new Proto().Field(2, [.. Link(Leaf, "a", 1), .. Link(Leaf, "b", 1)]).ToArray(), "two Hash fields" },
        { new Proto().Field(2, new Proto().Field(1, Leaf.ToBytes()).Field(2, [0xC3, 0x28]).ToArray()).ToArray(), "not valid UTF-8" },
        { new Proto().Field(2, new Proto().Field(1, [.. Leaf.ToBytes(), 0]).ToArray()).ToArray(), "after its CID" },
        { new Proto().Field(2, new Proto().Field(1, Leaf.ToBytes().Take(20).ToArray()).ToArray()).ToArray(), "bad Hash" },
        { new Proto().Field(2, new Proto().Field(1, Leaf.ToBytes()).Field(3, [1]).ToArray()).ToArray(), "field 3 has wire type 2; it must be 0" },
        { new Proto().Field(2, new Proto().Field(1, Leaf.ToBytes()).Field(3, 1).Field(3, 2).ToArray()).ToArray(), "two Tsize fields" },
        { new Proto().Field(2, new Proto().Field(1, Leaf.ToBytes()).Field(2, "a"u8.ToArray()).Field(2, "b"u8.ToArray()).ToArray()).ToArray(), "two Name fields" },
        { new Proto().Field(2, new Proto().Field(1, Leaf.ToBytes()).Raw([0x2A, 0x09, 0x00]).ToArray()).ToArray(), "9 bytes but only 1 remain" },
    };

    [Theory]
    [MemberData(nameof(BadNodes))]
    public void Malformed_protobuf_is_refused_by_name(byte[] block, string why)
    {
        var e = Assert.Throws<BundleException>(() => DagPb.Decode(block));
        Assert.Equal(BundleError.DagMalformed, e.Error);
        Assert.Contains(why, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_link_to_an_unsupported_cid_says_unsupported()
    {
        byte[] cbor = [1, 0x71, 0x12, 0x20, .. new byte[32]];
        var e = Assert.Throws<BundleException>(() => DagPb.Decode(new Proto().Field(2, new Proto().Field(1, cbor).ToArray()).ToArray()));
        Assert.Equal(BundleError.UnsupportedAddress, e.Error);
        Assert.Contains("dag-cbor", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void UnixFs_reads_sizes_plain_and_packed_and_skips_mode_and_mtime()
    {
        byte[] plain = new Proto().Field(1, 2).Field(3, 10).Field(4, 4).Field(4, 6).Field(7, 420).Field(8, new Proto().Field(1, 1700000000).ToArray()).ToArray();
        UnixFsData a = UnixFs.Decode(plain);
        Assert.Equal((UnixFsType.File, 10UL), (a.Type, a.FileSize));
        Assert.Equal([4UL, 6UL], a.BlockSizes);
        Assert.True(a.Data.IsEmpty);

        byte[] packed = new Proto().Field(1, 2).Field(2, "hi"u8.ToArray()).Field(3, 300).Field(4, new Proto().Varint(200).Varint(98).ToArray()).Field(5, 0x12).Field(6, 256).ToArray();
        UnixFsData b = UnixFs.Decode(packed);
        Assert.Equal([200UL, 98UL], b.BlockSizes);
        Assert.Equal("hi", Encoding.ASCII.GetString(b.Data.Span));
        Assert.Equal(300UL, b.FileSize);
    }

    [Theory]
    [InlineData(new byte[] { }, "no Type")]
    [InlineData(new byte[] { 0x08, 0x06 }, "Type 6")]
    [InlineData(new byte[] { 0x08, 0x02, 0x08, 0x02 }, "two Type fields")]
    [InlineData(new byte[] { 0x08, 0x02, 0x12, 0x01, 0x00, 0x12, 0x00 }, "two Data fields")]
    [InlineData(new byte[] { 0x08, 0x02, 0x18, 0x01, 0x18, 0x01 }, "two filesize fields")]
    [InlineData(new byte[] { 0x08, 0x02, 0x12, 0x03, 0x00 }, "3 bytes but only 1 remain")]
    [InlineData(new byte[] { 0x08, 0x02, 0x22, 0x01, 0x80 }, "ends inside a varint")]
    [InlineData(new byte[] { 0x0A, 0x00 }, "field 1 has wire type 2; it must be 0")]
    public void Malformed_unixfs_is_refused_by_name(byte[] bytes, string why)
    {
        var e = Assert.Throws<BundleException>(() => UnixFs.Decode(bytes));
        Assert.Equal(BundleError.DagMalformed, e.Error);
        Assert.Contains(why, e.Message, StringComparison.Ordinal);
    }
}
