namespace InfraMind.Node.Models.Content;

/// <summary>The UnixFS node types (unixfs.proto Data.DataType).</summary>
public enum UnixFsType
{
    Raw = 0,
    Directory = 1,
    File = 2,
    Metadata = 3,
    Symlink = 4,
    HamtShard = 5,
}

/// <summary>A decoded UnixFS Data message. <see cref="Data"/> points into the block it was decoded from.</summary>
public sealed class UnixFsData(UnixFsType type, ReadOnlyMemory<byte> data, ulong? fileSize, IReadOnlyList<ulong> blockSizes)
{
    public UnixFsType Type { get; } = type;

    /// <summary>File bytes carried by this node itself; they come before its children's.</summary>
    public ReadOnlyMemory<byte> Data { get; } = data;

    /// <summary>The file's total size as the node claims it; null when absent.</summary>
    public ulong? FileSize { get; } = fileSize;

    /// <summary>The content size of each child, in link order.</summary>
    public IReadOnlyList<ulong> BlockSizes { get; } = blockSizes;
}

/// <summary>
/// The UnixFS Data decoder: Type = 1 (required), Data = 2, filesize = 3, blocksizes = 4 (repeated, plain or
/// packed). hashType, fanout, mode and mtime may appear and are skipped. A pure function of the bytes.
/// </summary>
public static class UnixFs
{
    public static UnixFsData Decode(ReadOnlyMemory<byte> bytes)
    {
        var reader = new ProtoReader(bytes.Span, "UnixFS data");
        int? type = null;
        ReadOnlyMemory<byte>? data = null;
        ulong? fileSize = null;
        var blockSizes = new List<ulong>();
        while (!reader.End)
        {
            int field = reader.ReadTag(out WireType wireType);
            switch (field)
            {
                case 1:
                    reader.Expect(field, wireType, WireType.Varint);
                    ulong value = reader.ReadVarint();
                    if (type is not null)
                        reader.Fail("it has two Type fields");
                    if (value > (ulong)UnixFsType.HamtShard)
                        reader.Fail($"Type {value} is not a UnixFS type");
                    type = (int)value;
                    break;
                case 2:
                    reader.Expect(field, wireType, WireType.LengthDelimited);
                    Range range = reader.ReadLengthDelimited();
                    if (data is not null)
                        reader.Fail("it has two Data fields");
                    data = bytes[range];
                    break;
                case 3:
                    reader.Expect(field, wireType, WireType.Varint);
                    ulong size = reader.ReadVarint();
                    if (fileSize is not null)
                        reader.Fail("it has two filesize fields");
                    fileSize = size;
                    break;
                case 4 when wireType == WireType.Varint:
                    blockSizes.Add(reader.ReadVarint());
                    break;
                case 4:
                    reader.Expect(field, wireType, WireType.LengthDelimited);
                    ReadPacked(bytes.Span[reader.ReadLengthDelimited()], blockSizes);
                    break;
                default:
                    reader.Skip(wireType);
                    break;
            }
        }

        if (type is null)
            reader.Fail("it has no Type");
        return new UnixFsData((UnixFsType)type.Value, data ?? ReadOnlyMemory<byte>.Empty, fileSize, blockSizes);
    }

    private static void ReadPacked(ReadOnlySpan<byte> packed, List<ulong> into)
    {
        var reader = new ProtoReader(packed, "UnixFS blocksizes");
        while (!reader.End)
            into.Add(reader.ReadVarint());
    }
}
