using System.Buffers;
using System.Text;
using InfraMind.Node.Models.Content;
using Microsoft.Win32.SafeHandles;

namespace InfraMind.Node.BundleBench;

/// <summary>What <see cref="CarFileBuilder.Build"/> wrote.</summary>
internal sealed record CarInfo(Cid Root, Cid FileRoot, long CarBytes, int Blocks, int Leaves, int InternalNodes, int FileDepth);

/// <summary>
/// Writes a payload file as a CARv1 the way <c>ipfs add --cid-version=1 --raw-leaves --chunker=size-262144</c>
/// (balanced layout, at most 174 links per node) followed by <c>ipfs dag export</c> lays it out: a UnixFS directory
/// holding one file, raw 256 KiB leaves, dag-pb file nodes over them, all CIDv1 sha2-256, blocks in depth-first
/// pre-order (the order a trustless gateway streams with dag-scope=all).
/// The dag-pb/UnixFS encoding follows tests/Infra.Tests/Models/CarBuilder.cs (copied, not referenced).
/// </summary>
internal static class CarFileBuilder
{
    public const int DefaultChunk = 256 * 1024;

    /// <summary>Kubo's balanced layout: DefaultLinksPerBlock.</summary>
    public const int DefaultMaxLinks = 174;

    public static CarInfo Build(string payloadPath, string carPath, string fileName, int chunk = DefaultChunk, int maxLinks = DefaultMaxLinks)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxLinks, 2);
        using SafeFileHandle payload = File.OpenHandle(payloadPath, FileMode.Open, FileAccess.Read, FileShare.Read);
        long length = RandomAccess.GetLength(payload);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(length);
        byte[] buffer = new byte[chunk];

        // Pass 1: hash the leaves, then build the file nodes level by level (balanced: full nodes from the left).
        var level = new List<DagNode>();
        for (long offset = 0; offset < length; offset += chunk)
        {
            int size = (int)Math.Min(chunk, length - offset);
            ReadExactly(payload, buffer.AsSpan(0, size), offset);
            level.Add(new DagNode(Cid.ForBlock(CidCodec.Raw, buffer.AsSpan(0, size)), null, offset, size, [], (ulong)size, (ulong)size));
        }

        int leaves = level.Count;
        int internalNodes = 0;
        int depth = 0;
        while (level.Count > 1)
        {
            var next = new List<DagNode>((level.Count + maxLinks - 1) / maxLinks);
            for (int i = 0; i < level.Count; i += maxLinks)
                next.Add(FileNode(level.GetRange(i, Math.Min(maxLinks, level.Count - i))));
            internalNodes += next.Count;
            level = next;
            depth++;
        }

        DagNode file = level[0];
        byte[] directoryBlock = PbNode([Link(file.Cid, fileName, file.Tsize)], UnixFs(type: 1, fileSize: null, []));
        var directory = new DagNode(Cid.ForBlock(CidCodec.DagPb, directoryBlock), directoryBlock, 0, 0, [file], 0, (ulong)directoryBlock.Length + file.Tsize);

        // Pass 2: the CAR, in depth-first pre-order; leaves are read from the payload again.
        int blocks = 0;
        using (var car = new FileStream(carPath, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 1 << 20))
        {
            byte[] header = Header(directory.Cid);
            WriteVarint(car, (ulong)header.Length);
            car.Write(header);
            var stack = new Stack<DagNode>();
            stack.Push(directory);
            while (stack.TryPop(out DagNode? node))
            {
                ReadOnlySpan<byte> block = node.Block;
                if (node.Block is null)
                {
                    ReadExactly(payload, buffer.AsSpan(0, node.Length), node.Offset);
                    block = buffer.AsSpan(0, node.Length);
                }

                byte[] cid = node.Cid.ToBytes();
                WriteVarint(car, (ulong)(cid.Length + block.Length));
                car.Write(cid);
                car.Write(block);
                blocks++;
                for (int i = node.Children.Count - 1; i >= 0; i--)
                    stack.Push(node.Children[i]);
            }

            car.Flush(flushToDisk: false);
        }

        return new CarInfo(directory.Cid, file.Cid, new FileInfo(carPath).Length, blocks, leaves, internalNodes, depth);
    }

    private static DagNode FileNode(List<DagNode> children)
    {
        ulong fileSize = 0;
        ulong tsize = 0;
        var links = new List<byte[]>(children.Count);
        var blockSizes = new List<ulong>(children.Count);
        foreach (DagNode child in children)
        {
            fileSize += child.FileSize;
            tsize += child.Tsize;
            blockSizes.Add(child.FileSize);
            links.Add(Link(child.Cid, "", child.Tsize));
        }

        byte[] block = PbNode(links, UnixFs(type: 2, fileSize, blockSizes));
        return new DagNode(Cid.ForBlock(CidCodec.DagPb, block), block, 0, 0, children, fileSize, tsize + (ulong)block.Length);
    }

    /// <summary>UnixFS Data: Type (1), filesize (3), blocksizes (4, repeated, unpacked as in go-unixfs).</summary>
    private static byte[] UnixFs(int type, ulong? fileSize, List<ulong> blockSizes)
    {
        var p = new Proto().Field(1, (ulong)type);
        if (fileSize is ulong size)
            p.Field(3, size);
        foreach (ulong b in blockSizes)
            p.Field(4, b);
        return p.ToArray();
    }

    /// <summary>PBLink: Hash (1), Name (2), Tsize (3).</summary>
    private static byte[] Link(Cid cid, string name, ulong tsize) =>
        new Proto().Field(1, cid.ToBytes()).Field(2, Encoding.UTF8.GetBytes(name)).Field(3, tsize).ToArray();

    /// <summary>PBNode in the canonical order: Links (2) first, then Data (1).</summary>
    private static byte[] PbNode(List<byte[]> links, byte[] data)
    {
        var p = new Proto();
        foreach (byte[] link in links)
            p.Field(2, link);
        return p.Field(1, data).ToArray();
    }

    /// <summary>The CARv1 header, dag-cbor <c>{"roots": [root], "version": 1}</c>.</summary>
    private static byte[] Header(Cid root)
    {
        var h = new List<byte> { 0xA2 };
        h.AddRange(CborText("roots"));
        h.AddRange(CborHead(4, 1));
        byte[] cid = root.ToBytes();
        h.AddRange([0xD8, 42]);
        h.AddRange(CborHead(2, (ulong)cid.Length + 1));
        h.Add(0);
        h.AddRange(cid);
        h.AddRange(CborText("version"));
        h.Add(0x01);
        return [.. h];
    }

    private static byte[] CborHead(int major, ulong value)
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

    private static byte[] CborText(string text)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(text);
        return [.. CborHead(3, (ulong)bytes.Length), .. bytes];
    }

    private static void WriteVarint(Stream stream, ulong value)
    {
        Span<byte> bytes = stackalloc byte[10];
        int n = 0;
        while (value >= 0x80)
        {
            bytes[n++] = (byte)(value | 0x80);
            value >>= 7;
        }

        bytes[n++] = (byte)value;
        stream.Write(bytes[..n]);
    }

    private static void ReadExactly(SafeFileHandle file, Span<byte> buffer, long offset)
    {
        int done = 0;
        while (done < buffer.Length)
        {
            int n = RandomAccess.Read(file, buffer[done..], offset + done);
            if (n == 0)
                throw new EndOfStreamException($"the payload ended at byte {offset + done}");
            done += n;
        }
    }

    /// <summary>
    /// One block of the DAG: a raw leaf (no <see cref="Block"/>: its bytes are the payload at Offset/Length) or a
    /// dag-pb node. FileSize counts file bytes under it; Tsize the whole DAG under it, its own block included.
    /// </summary>
    private sealed record DagNode(Cid Cid, byte[]? Block, long Offset, int Length, List<DagNode> Children, ulong FileSize, ulong Tsize);

    /// <summary>A protobuf writer just big enough for dag-pb and UnixFS.</summary>
    private sealed class Proto
    {
        private readonly ArrayBufferWriter<byte> _out = new();

        public Proto Varint(ulong value)
        {
            Span<byte> bytes = _out.GetSpan(10);
            int n = 0;
            while (value >= 0x80)
            {
                bytes[n++] = (byte)(value | 0x80);
                value >>= 7;
            }

            bytes[n++] = (byte)value;
            _out.Advance(n);
            return this;
        }

        public Proto Field(int field, ulong value) => Varint((ulong)field << 3).Varint(value);

        public Proto Field(int field, byte[] bytes)
        {
            Varint(((ulong)field << 3) | 2).Varint((ulong)bytes.Length);
            _out.Write(bytes);
            return this;
        }

        public byte[] ToArray() => _out.WrittenSpan.ToArray();
    }
}
