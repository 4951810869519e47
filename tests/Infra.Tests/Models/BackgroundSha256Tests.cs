using System.Buffers;
using System.Security.Cryptography;
using InfraMind.Node.Crypto;
using InfraMind.Node.Errors;
using InfraMind.Node.Models.Fetch;

namespace InfraMind.Node.Tests.Models;

/// <summary>
/// The hash thread behind the HTTP fetcher: chunks posted in order hash to the one-shot sha256 of their
/// concatenation however often the ring wraps, the producer waits when every chunk is out, and disposing without
/// finishing neither hangs nor lets the thread outlive the chunks.
/// </summary>
public sealed class BackgroundSha256Tests
{
    [Theory]
    [InlineData(1, 16, 1)]
    [InlineData(2, 1000, 37)]
    [InlineData(4, 4096, 300)]
    public async Task Chunks_of_any_size_hash_to_the_one_shot_digest(int chunks, int chunkBytes, int posts)
    {
        var random = new Random(posts);
        var all = new ArrayBufferWriter<byte>();
        var sha256 = new BackgroundSha256(chunks, chunkBytes);
        await using (sha256)
        {
            for (int i = 0; i < posts; i++)
            {
                Memory<byte> chunk = await sha256.RentAsync(CancellationToken.None);
                Assert.Equal(chunkBytes, chunk.Length);
                int count = random.Next(0, chunkBytes + 1); // empty chunks too: the end of a body
                random.NextBytes(chunk.Span[..count]);
                all.Write(chunk.Span[..count]);
                sha256.Post(chunk, count);
            }

            Hash32 digest = await sha256.FinishAsync();
            Assert.Equal(Hash32.Read(SHA256.HashData(all.WrittenSpan)), digest);
            Assert.Equal(all.WrittenCount, sha256.Bytes);
        }
    }

    [Fact]
    public async Task Nothing_posted_is_the_digest_of_no_bytes()
    {
        await using var sha256 = new BackgroundSha256(2, 8);
        Assert.Equal(Hash32.Read(SHA256.HashData([])), await sha256.FinishAsync());
    }

    [Fact]
    public async Task The_producer_waits_while_every_chunk_is_out()
    {
        await using var sha256 = new BackgroundSha256(2, 8);
        Memory<byte> first = await sha256.RentAsync(CancellationToken.None);
        Memory<byte> second = await sha256.RentAsync(CancellationToken.None);
        Assert.False(first.Equals(second)); // Memory's own equality: the same buffer, offset and length

        ValueTask<Memory<byte>> third = sha256.RentAsync(CancellationToken.None);
        await Task.Delay(50);
        Assert.False(third.IsCompleted);

        sha256.Post(first, 3); // hashed, then free again
        Assert.True(first.Equals(await third.AsTask().WaitAsync(TimeSpan.FromSeconds(10))));
    }

    [Fact]
    public async Task A_cancelled_wait_for_a_chunk_throws()
    {
        await using var sha256 = new BackgroundSha256(1, 8);
        await sha256.RentAsync(CancellationToken.None);
        using var cancel = new CancellationTokenSource(50);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await sha256.RentAsync(cancel.Token));
    }

    [Fact]
    public async Task Dispose_without_finishing_stops_the_thread()
    {
        var sha256 = new BackgroundSha256(3, 1 << 16);
        Memory<byte> chunk = await sha256.RentAsync(CancellationToken.None);
        sha256.Post(chunk, chunk.Length);
        await sha256.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        await sha256.DisposeAsync(); // twice is harmless
        Assert.Throws<ObjectDisposedException>(() => sha256.Post(chunk, 1));
        Assert.Throws<ObjectDisposedException>(() => chunk.Span[0]); // unmapped: a late read is refused, not served
    }

    [Fact]
    public async Task Misuse_is_refused()
    {
        await using var sha256 = new BackgroundSha256(1, 8);
        Memory<byte> chunk = await sha256.RentAsync(CancellationToken.None);
        Assert.Throws<ArgumentOutOfRangeException>(() => sha256.Post(chunk, chunk.Length + 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => sha256.Post(chunk, -1));
        await sha256.FinishAsync();
        Assert.Throws<InfraException>(() => sha256.Post(chunk, 1));
        await Assert.ThrowsAsync<InfraException>(sha256.FinishAsync);
        Assert.Throws<ArgumentOutOfRangeException>(() => new BackgroundSha256(0, 8));
        Assert.Throws<ArgumentOutOfRangeException>(() => new BackgroundSha256(1, 0));
    }
}
