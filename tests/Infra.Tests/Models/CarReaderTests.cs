using InfraMind.Node.Models.Content;
using static InfraMind.Node.Tests.Models.CarBuilder;

namespace InfraMind.Node.Tests.Models;

public class CarReaderTests
{
    private static readonly Block A = Block.Raw(Pattern(100, 1));
    private static readonly Block B = Block.Raw(Pattern(300, 2));
    private static readonly Block Root = FileNode([(A, 100, 100), (B, 300, 300)]);

    private static byte[] SmallCar() => Car(Root.Cid, [Root, A, B]);

    private static async Task<(CarHeader Header, List<Block> Blocks, CarReader Reader)> ReadAll(Stream stream)
    {
        var reader = new CarReader(stream);
        CarHeader header = await reader.ReadHeaderAsync();
        var blocks = new List<Block>();
        while (await reader.ReadBlockAsync() is CarBlock block)
            blocks.Add(new Block(block.Cid, block.Data.ToArray()));
        await reader.DisposeAsync();
        return (header, blocks, reader);
    }

    private static async Task<BundleException> Refused(byte[] car, int chunk = int.MaxValue) =>
        await Assert.ThrowsAsync<BundleException>(() => ReadAll(new TrickleStream(car, chunk)));

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(int.MaxValue)]
    public async Task A_car_reads_back_header_and_verified_blocks_however_it_is_split(int chunk)
    {
        byte[] car = SmallCar();
        (CarHeader header, List<Block> blocks, CarReader reader) = await ReadAll(new TrickleStream(car, chunk));
        Assert.Equal(1, header.Version);
        Assert.Equal([Root.Cid], header.Roots);
        Assert.Equal([Root, A, B], blocks, BlockEquality.Instance);
        Assert.Equal(car.Length, reader.BytesRead);
        Assert.Equal(3, reader.BlocksVerified);
    }

    [Fact]
    public async Task Every_truncation_point_is_truncated_or_a_clean_end_between_sections()
    {
        byte[] car = SmallCar();
        var boundaries = new HashSet<int>();
        int at = Header(Root.Cid).Length + 1;
        boundaries.Add(at);
        foreach (Block block in new[] { Root, A, B })
        {
            int section = block.Cid.BinaryLength + block.Bytes.Length;
            at += (section < 128 ? 1 : 2) + section;
            boundaries.Add(at);
        }

        Assert.Contains(car.Length, boundaries);
        for (int length = 0; length < car.Length; length++)
        {
            byte[] prefix = car[..length];
            if (boundaries.Contains(length))
            {
                (_, List<Block> blocks, _) = await ReadAll(new MemoryStream(prefix));
                Assert.True(blocks.Count < 3);
            }
            else
            {
                BundleException e = await Refused(prefix);
                Assert.True(e.Error == BundleError.Truncated, $"prefix {length}: {e.Error} {e.Message}");
            }
        }
    }

    [Fact]
    public async Task A_flipped_byte_anywhere_in_a_block_is_a_hash_mismatch()
    {
        byte[] car = SmallCar();
        int dataStart = car.Length - B.Bytes.Length;
        foreach (int offset in new[] { dataStart, dataStart + 150, car.Length - 1 })
        {
            byte[] bad = (byte[])car.Clone();
            bad[offset] ^= 0x01;
            BundleException e = await Refused(bad);
            Assert.Equal(BundleError.BlockHashMismatch, e.Error);
            Assert.Contains(B.Cid.ToString(), e.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task A_flipped_byte_in_a_cid_is_a_mismatch_or_a_refused_cid()
    {
        byte[] car = SmallCar();
        int cidStart = car.Length - B.Bytes.Length - B.Cid.BinaryLength;
        for (int i = 0; i < B.Cid.BinaryLength; i++)
        {
            byte[] bad = (byte[])car.Clone();
            bad[cidStart + i] ^= 0x40;
            BundleException e = await Refused(bad);
            Assert.Contains(e.Error, new[] { BundleError.BlockHashMismatch, BundleError.CarMalformed, BundleError.UnsupportedAddress });
        }
    }

    [Fact]
    public async Task CARv2_is_refused_with_what_to_ask_for()
    {
        // The CARv2 pragma: a 10-byte header {"version": 2}, then the v2 header and the v1 payload.
        byte[] car = [0x0A, 0xA1, 0x67, .. "version"u8, 0x02, .. new byte[40], .. SmallCar()];
        BundleException e = await Refused(car);
        Assert.Equal(BundleError.Unsupported, e.Error);
        Assert.Contains("CARv1", e.Message, StringComparison.Ordinal);
    }

    public static TheoryData<byte[], string> BadHeaders()
    {
        byte[] root = [0xD8, 42, .. CborHead(2, 37), 0, .. Root.Cid.ToBytes()];
        byte[] roots = [.. CborText("roots"), 0x81, .. root];
        byte[] version = [.. CborText("version"), 0x01];
        return new TheoryData<byte[], string>
        {
            { [0xA2, .. roots, .. CborText("version"), 0x03], "CAR version 3" },
            { [0xA1, .. roots], "no 'version'" },
            { [0xA1, .. version], "no 'roots'" },
            { [0xA0], "0 entries" },
            { [0xA3, .. roots, .. version, .. CborText("extra"), 0x01], "3 entries" },
            { [0xA2, .. roots, .. CborText("vErsion"), 0x01], "key other than" },
            { [0xA2, .. roots, .. roots], "'roots' twice" },
            { [0xA2, .. version, .. version], "'version' twice" },
            { [0xBF, .. roots, .. version, 0xFF], "indefinite length" },
            { [0xA2, .. roots, .. CborText("version"), 0x18, 0x01], "shortest form" },
            { [0xA2, .. roots, .. CborText("version"), 0x1C], "reserved" },
            { [0xA2, .. roots, .. version, 0x00], "bytes follow" },
            { [0x82, .. roots], "major type 4" },
            { [0xA2, .. CborText("roots"), 0x81, .. root[2..], .. version], "major type 2; expected 6" },
            { [0xA2, .. CborText("roots"), 0x81, 0xD8, 43, .. root[2..], .. version], "not tagged as a CID" },
            { [0xA2, .. CborText("roots"), 0x81, 0xD8, 42, .. CborHead(2, 36), .. Root.Cid.ToBytes(), .. version], "0x00" },
            { [0xA2, .. CborText("roots"), 0x81, 0xD8, 42, .. CborHead(2, 38), 0, .. Root.Cid.ToBytes(), 0, .. version], "after its digest" },
            { [0xA2, .. CborText("roots"), 0x81, 0xD8, 42, .. CborHead(2, 30), 0, .. Root.Cid.ToBytes()[..29], .. version], "malformed" },
            { [0xA2, .. CborText("roots"), 0x99, 0xFF, 0xFF], "more than the header's bytes" },
            { [0xA2, .. CborText("roots"), 0x81, 0xD8, 42, 0x58, 200, 0], "200 bytes but only 1 remain" },
            { [0xA2, .. CborText("roots")], "ends before 'roots'" },
            { [0xA2, 0x78], "ends inside a header key" },
        };
    }

    [Theory]
    [MemberData(nameof(BadHeaders))]
    public async Task Headers_other_than_the_strict_dag_cbor_shape_are_malformed(byte[] header, string why)
    {
        BundleException e = await Refused(Car(header, [Root, A, B]));
        Assert.Equal(BundleError.CarMalformed, e.Error);
        Assert.Contains(why, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_root_with_an_unsupported_cid_says_unsupported()
    {
        byte[] cbor = [1, 0x71, 0x12, 0x20, .. new byte[32]];
        byte[] header = [0xA2, .. CborText("roots"), 0x81, 0xD8, 42, .. CborHead(2, 37), 0, .. cbor, .. CborText("version"), 0x01];
        BundleException e = await Refused(Car(header, []));
        Assert.Equal(BundleError.UnsupportedAddress, e.Error);
    }

    [Fact]
    public async Task An_empty_root_list_and_several_roots_are_read_for_the_caller_to_judge()
    {
        (CarHeader none, _, _) = await ReadAll(new MemoryStream(Car(Header(), [])));
        Assert.Empty(none.Roots);
        (CarHeader two, _, _) = await ReadAll(new MemoryStream(Car(Header(A.Cid, B.Cid), [A, B])));
        Assert.Equal([A.Cid, B.Cid], two.Roots);
    }

    [Fact]
    public async Task Framing_errors_are_malformed_and_oversized_sections_too_large()
    {
        byte[] header = Header(Root.Cid);
        byte[] start = [.. new Proto().Varint((ulong)header.Length).ToArray(), .. header];

        Assert.Equal(BundleError.Truncated, (await Refused([])).Error);
        Assert.Equal(BundleError.CarMalformed, (await Refused([0x00])).Error);
        Assert.Equal(BundleError.CarMalformed, (await Refused([0x80, 0x00, .. header])).Error);
        Assert.Equal(BundleError.BlockTooLarge, (await Refused([0x81, 0x80, 0x04, .. header])).Error);
        Assert.Equal(BundleError.CarMalformed, (await Refused([.. start, 0x00])).Error);
        Assert.Equal(BundleError.CarMalformed, (await Refused([.. start, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01])).Error);
        Assert.Equal(BundleError.BlockTooLarge, (await Refused([.. start, .. new Proto().Varint((2 << 20) + 65).ToArray()])).Error);
        Assert.Equal(BundleError.BlockTooLarge, (await Refused([.. start, .. new Proto().Varint(1UL << 40).ToArray()])).Error);

        // A section whose length ends inside its CID.
        Assert.Equal(BundleError.CarMalformed, (await Refused([.. start, 0x05, .. A.Cid.ToBytes()[..5]])).Error);
    }

    [Fact]
    public async Task A_block_of_exactly_two_MiB_is_read_and_one_byte_more_is_refused()
    {
        Block big = Block.Raw(Pattern(2 << 20));
        (_, List<Block> blocks, _) = await ReadAll(new MemoryStream(Car(big.Cid, [big])));
        Assert.Equal(big.Bytes.Length, blocks.Single().Bytes.Length);

        Block bigger = Block.Raw(Pattern((2 << 20) + 1));
        BundleException e = await Refused(Car(bigger.Cid, [bigger]));
        Assert.Equal(BundleError.BlockTooLarge, e.Error);
    }

    [Fact]
    public async Task The_stream_limit_is_enforced_before_a_section_is_read()
    {
        byte[] car = SmallCar();
        var reader = new CarReader(new MemoryStream(car), maxBytes: car.Length - 1);
        await reader.ReadHeaderAsync();
        var e = await Assert.ThrowsAsync<BundleException>(async () =>
        {
            while (await reader.ReadBlockAsync() is not null)
            {
            }
        });
        Assert.Equal(BundleError.TooLarge, e.Error);
    }

    [Fact]
    public void ParseSection_is_a_pure_function_of_the_section()
    {
        byte[] section = [.. A.Cid.ToBytes(), .. A.Bytes];
        Assert.Equal(A.Cid, CarReader.ParseSection(section, 1, out int cidLength));
        Assert.Equal(36, cidLength);
        Cid v0 = Cid.Create(0, CidCodec.DagPb, Root.Cid.Digest);
        Assert.Equal(v0, CarReader.ParseSection([.. v0.ToBytes(), .. Root.Bytes], 1, out cidLength));
        Assert.Equal(34, cidLength);
    }
}

/// <summary>Compares blocks by CID and bytes.</summary>
public sealed class BlockEquality : IEqualityComparer<Block>
{
    public static readonly BlockEquality Instance = new();

    public bool Equals(Block? x, Block? y) => x!.Cid == y!.Cid && x.Bytes.AsSpan().SequenceEqual(y.Bytes);

    public int GetHashCode(Block obj) => obj.Cid.GetHashCode();
}
