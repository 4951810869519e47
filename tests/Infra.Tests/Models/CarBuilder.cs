using System.Buffers;
using System.Text;
using InfraMind.Node.Models.Content;

namespace InfraMind.Node.Tests.Models;

/// <summary>A protobuf writer just big enough to build dag-pb and UnixFS by hand.</summary>
public sealed class Proto
{
    private readonly ArrayBufferWriter<byte> _out = new();

    public Proto Varint(ulong value)
    {
        while (value >= 0x80)
        {
            Byte((byte)(value | 0x80));
            value >>= 7;
        }

        return Byte((byte)value);
    }

    public Proto Tag(int field, int wireType) => Varint(((ulong)field << 3) | (uint)wireType);

    public Proto Field(int field, ulong value) => Tag(field, 0).Varint(value);

    public Proto Field(int field, byte[] bytes) => Tag(field, 2).Varint((ulong)bytes.Length).Raw(bytes);

    public Proto Raw(byte[] bytes)
    {
        _out.Write(bytes);
        return this;
    }

    public Proto Byte(byte b) => Raw([b]);

    public byte[] ToArray() => _out.WrittenSpan.ToArray();
}

/// <summary>One block: its CID and bytes.</summary>
public sealed record Block(Cid Cid, byte[] Bytes)
{
    public static Block Raw(byte[] bytes) => new(Cid.ForBlock(CidCodec.Raw, bytes), bytes);

    public static Block DagPb(byte[] bytes) => new(Cid.ForBlock(CidCodec.DagPb, bytes), bytes);
}

/// <summary>Builds UnixFS DAGs and CARv1 files by hand, the way the IPFS importers lay them out.</summary>
public static class CarBuilder
{
    public static byte[] UnixFsBytes(int type, byte[]? data = null, ulong? fileSize = null, IEnumerable<ulong>? blockSizes = null)
    {
        var p = new Proto().Field(1, (ulong)type);
        if (data is not null)
            p.Field(2, data);
        if (fileSize is ulong size)
            p.Field(3, size);
        foreach (ulong b in blockSizes ?? [])
            p.Field(4, b);
        return p.ToArray();
    }

    public static byte[] Link(Cid cid, string? name, ulong? tsize)
    {
        var p = new Proto().Field(1, cid.ToBytes());
        if (name is not null)
            p.Field(2, Encoding.UTF8.GetBytes(name));
        if (tsize is ulong t)
            p.Field(3, t);
        return p.ToArray();
    }

    /// <summary>A PBNode in the canonical order: links, then data.</summary>
    public static byte[] PbNodeBytes(IEnumerable<byte[]> links, byte[]? data)
    {
        var p = new Proto();
        foreach (byte[] link in links)
            p.Field(2, link);
        if (data is not null)
            p.Field(1, data);
        return p.ToArray();
    }

    /// <summary>A UnixFS file node over children (each a block plus its content length and cumulative size).</summary>
    public static Block FileNode(IReadOnlyList<(Block Child, ulong Size, ulong Tsize)> children, byte[]? ownData = null)
    {
        ulong total = (ulong)(ownData?.Length ?? 0) + children.Aggregate(0UL, (s, c) => s + c.Size);
        byte[] data = UnixFsBytes(2, ownData, total, children.Select(c => c.Size));
        return Block.DagPb(PbNodeBytes(children.Select(c => Link(c.Child.Cid, "", c.Tsize)), data));
    }

    /// <summary>A UnixFS directory over named entries.</summary>
    public static Block DirNode(params (string Name, Block Target, ulong Tsize)[] entries) =>
        Block.DagPb(PbNodeBytes(entries.Select(e => Link(e.Target.Cid, e.Name, e.Tsize)), UnixFsBytes(1)));

    public static byte[] Header(params Cid[] roots)
    {
        var h = new List<byte> { 0xA2 };
        h.AddRange(CborText("roots"));
        h.AddRange(CborHead(4, (ulong)roots.Length));
        foreach (Cid root in roots)
        {
            byte[] cid = root.ToBytes();
            h.AddRange([0xD8, 42]);
            h.AddRange(CborHead(2, (ulong)cid.Length + 1));
            h.Add(0);
            h.AddRange(cid);
        }

        h.AddRange(CborText("version"));
        h.Add(0x01);
        return h.ToArray();
    }

    public static byte[] Car(Cid root, IEnumerable<Block> blocks) => Car(Header(root), blocks);

    public static byte[] Car(byte[] header, IEnumerable<Block> blocks)
    {
        var car = new Proto().Varint((ulong)header.Length).Raw(header);
        foreach (Block block in blocks)
        {
            byte[] cid = block.Cid.ToBytes();
            car.Varint((ulong)(cid.Length + block.Bytes.Length)).Raw(cid).Raw(block.Bytes);
        }

        return car.ToArray();
    }

    public static byte[] CborHead(int major, ulong value)
    {
        byte m = (byte)(major << 5);
        return value switch
        {
            < 24 => [(byte)(m | (byte)value)],
            <= 0xFF => [(byte)(m | 24), (byte)value],
            <= 0xFFFF => [(byte)(m | 25), (byte)(value >> 8), (byte)value],
            _ => [(byte)(m | 26), (byte)(value >> 24), (byte)(value >> 16), (byte)(value >> 8), (byte)value],
        };
    }

    public static byte[] CborText(string text)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(text);
        return [.. CborHead(3, (ulong)bytes.Length), .. bytes];
    }

    /// <summary>Deterministic test bytes.</summary>
    public static byte[] Pattern(int length, int seed = 0)
    {
        var bytes = new byte[length];
        for (int i = 0; i < length; i++)
            bytes[i] = (byte)((i * 31) + 7 + (seed * 13));
        return bytes;
    }
}

/// <summary>A stream that hands out at most <c>chunk</c> bytes per read, to split every structure across reads.</summary>
public sealed class TrickleStream(byte[] bytes, int chunk = 1) : Stream
{
    private int _at;

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => bytes.Length;

    public override long Position { get => _at; set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        int n = Math.Min(Math.Min(chunk, buffer.Length), bytes.Length - _at);
        bytes.AsSpan(_at, n).CopyTo(buffer);
        _at += n;
        return n;
    }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult(Read(buffer.Span));

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        Task.FromResult(Read(buffer.AsSpan(offset, count)));

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
