using InfraMind.Node.Models.Content;
using InfraMind.Node.Tests.Support;
using static InfraMind.Node.Tests.Models.CarBuilder;

namespace InfraMind.Node.Tests.Models;

public sealed class BlockVerifierTests
{
    private static async Task<byte[]> Fill(BlockVerifier verifier, byte[] block)
    {
        byte[] buffer = await verifier.RentAsync(block.Length, CancellationToken.None);
        block.CopyTo(buffer, 0);
        return buffer;
    }

    [Fact]
    public async Task Good_blocks_pass_and_their_buffers_come_back()
    {
        await using var verifier = new BlockVerifier(2);
        var seen = new HashSet<byte[]>(ReferenceEqualityComparer.Instance);
        for (int i = 0; i < 50; i++)
        {
            byte[] block = Pattern(1000 + i, seed: i);
            byte[] buffer = await verifier.RentAsync(2000, CancellationToken.None); // one size: no buffer is outgrown
            block.CopyTo(buffer, 0);
            seen.Add(buffer);
            verifier.Post(Cid.ForBlock(CidCodec.Raw, block), i + 1, buffer, 0, block.Length);
        }

        await verifier.FinishAsync();
        Assert.Equal(50, verifier.Verified);
        Assert.True(seen.Count <= 2, $"only the 2 buffers should circulate, saw {seen.Count}");
    }

    [Fact]
    public async Task A_block_at_an_offset_is_checked_at_that_offset()
    {
        await using var verifier = new BlockVerifier(1);
        byte[] block = Pattern(4096, seed: 7);
        byte[] buffer = await verifier.RentAsync(4096 + 40, CancellationToken.None);
        block.CopyTo(buffer, 40);
        buffer[0] ^= 0xFF; // outside the block: must not matter
        verifier.Post(Cid.ForBlock(CidCodec.Raw, block), 1, buffer, 40, block.Length);
        await verifier.FinishAsync();
        Assert.Equal(1, verifier.Verified);
    }

    [Fact]
    public async Task A_flipped_byte_fails_the_finish_and_the_next_rent_names_the_block()
    {
        await using var verifier = new BlockVerifier(1);
        byte[] good = Pattern(2048, seed: 1);
        byte[] bad = Pattern(2048, seed: 2);
        Cid badCid = Cid.ForBlock(CidCodec.Raw, bad);
        verifier.Post(Cid.ForBlock(CidCodec.Raw, good), 1, await Fill(verifier, good), 0, good.Length);
        byte[] buffer = await Fill(verifier, bad);
        buffer[1000] ^= 0x01;
        verifier.Post(badCid, 2, buffer, 0, bad.Length);

        // The only buffer comes back after the check, so this rent sees the failure.
        var early = await Assert.ThrowsAsync<BundleException>(() => verifier.RentAsync(16, CancellationToken.None).AsTask());
        Assert.Equal(BundleError.BlockHashMismatch, early.Error);
        Assert.Contains(badCid.ToString(), early.Message, StringComparison.Ordinal);
        Assert.Contains("#2", early.Message, StringComparison.Ordinal);

        var e = await Assert.ThrowsAsync<BundleException>(verifier.FinishAsync);
        Assert.Equal(BundleError.BlockHashMismatch, e.Error);
    }

    [Fact]
    public async Task A_wrong_cid_fails_even_for_an_empty_block()
    {
        await using var verifier = new BlockVerifier(1);
        byte[] buffer = await verifier.RentAsync(1, CancellationToken.None);
        verifier.Post(Cid.ForBlock(CidCodec.Raw, [1, 2, 3]), 1, buffer, 0, 0);
        var e = await Assert.ThrowsAsync<BundleException>(verifier.FinishAsync);
        Assert.Equal(BundleError.BlockHashMismatch, e.Error);
    }

    [Fact]
    public async Task A_rent_with_every_buffer_out_waits_and_can_be_cancelled()
    {
        await using var verifier = new BlockVerifier(1);
        _ = await verifier.RentAsync(16, CancellationToken.None); // held, never posted
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => verifier.RentAsync(16, cts.Token).AsTask());
    }

    [Fact]
    public async Task A_bigger_block_gets_a_bigger_buffer()
    {
        await using var verifier = new BlockVerifier(1);
        byte[] small = await verifier.RentAsync(10, CancellationToken.None);
        verifier.Post(Cid.ForBlock(CidCodec.Raw, small.AsSpan(0, 10)), 1, small, 0, 10);
        byte[] big = await verifier.RentAsync(100_000, CancellationToken.None);
        Assert.True(big.Length >= 100_000);
        verifier.Post(Cid.ForBlock(CidCodec.Raw, big.AsSpan(0, 100_000)), 2, big, 0, 100_000);
        await verifier.FinishAsync();
        Assert.Equal(2, verifier.Verified);
    }

    [Fact]
    public async Task Posting_after_finish_or_out_of_range_is_refused()
    {
        await using var verifier = new BlockVerifier(1);
        byte[] buffer = await verifier.RentAsync(8, CancellationToken.None);
        Cid cid = Cid.ForBlock(CidCodec.Raw, buffer.AsSpan(0, 8));
        Assert.Throws<ArgumentOutOfRangeException>(() => verifier.Post(cid, 1, buffer, 4, buffer.Length));
        Assert.Throws<ArgumentOutOfRangeException>(() => verifier.Post(cid, 1, buffer, -1, 1));
        await verifier.FinishAsync();
        Assert.ThrowsAny<Exception>(() => verifier.Post(cid, 1, buffer, 0, 8));
    }

    [Fact]
    public async Task A_flipped_byte_in_an_early_parked_leaf_is_refused_and_nothing_is_left()
    {
        // The leaves come before their file node, so they are spooled, not written directly: checked on arrival.
        using var tmp = new TempFolder();
        Block a = Block.Raw(Pattern(5000, seed: 3));
        Block b = Block.Raw(Pattern(5000, seed: 4));
        Block file = FileNode([(a, 5000, 5000), (b, 5000, 5000)]);
        byte[] flipped = (byte[])a.Bytes.Clone();
        flipped[2500] ^= 0x01;
        byte[] car = Car(file.Cid, [new Block(a.Cid, flipped), b, file]);
        var e = await Assert.ThrowsAsync<BundleException>(() =>
            CarBundleReader.ExtractAsync(file.Cid, new MemoryStream(car), tmp["out"], "bundle", 1L << 20));
        Assert.Equal(BundleError.BlockHashMismatch, e.Error);
        Assert.Empty(Directory.EnumerateFileSystemEntries(tmp.Path));
    }
}
