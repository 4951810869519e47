using System.Buffers;
using InfraMind.Node.Agent;
using InfraMind.Node.Models.Fetch;

namespace InfraMind.Node.Tests.Models;

/// <summary>The fetch buffers of their own: zeroed, writable, and gone from the process's mappings once disposed.</summary>
public sealed class MappedChunkTests
{
    [Fact]
    public unsafe void A_chunk_is_mapped_while_held_and_unmapped_after()
    {
        var chunk = new MappedChunk(1 << 20);
        nint address;
        using (MemoryHandle pinned = chunk.Memory.Pin())
            address = (nint)pinned.Pointer;
        Span<byte> span = chunk.GetSpan();
        Assert.Equal(1 << 20, span.Length);
        Assert.Equal(-1, span.IndexOfAnyExcept((byte)0)); // fresh anonymous memory reads as zeros
        span.Fill(0xA5);
        Assert.Equal(-1, chunk.GetSpan().IndexOfAnyExcept((byte)0xA5));
        Assert.True(IsMapped(address), "the chunk's address is not in /proc/self/maps while it is held");

        ((IDisposable)chunk).Dispose();
        Assert.False(IsMapped(address), "the chunk's address is still mapped after its dispose");
        Assert.Throws<ObjectDisposedException>(() => chunk.GetSpan());
        Assert.Throws<ObjectDisposedException>(() => chunk.Pin());
        ((IDisposable)chunk).Dispose(); // twice is harmless
    }

    [Fact]
    public void A_size_below_one_byte_is_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new MappedChunk(0));
    }

    private static bool IsMapped(nint address) =>
        File.ReadLines("/proc/self/maps").Any(line =>
            StartupPageRelease.TryHeader(line, out StartupPageRelease.Region mapping, out _)
            && (ulong)address >= mapping.Start && (ulong)address < mapping.End);
}
