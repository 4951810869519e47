using System.Text;

namespace InfraMind.Node.Models.Content;

/// <summary>One dag-pb link: the child's CID, its name in a directory, and the child DAG's cumulative size.</summary>
public sealed record PbLink(Cid Cid, string? Name, ulong? Tsize);

/// <summary>A decoded dag-pb node. <see cref="Data"/> points into the block it was decoded from.</summary>
public sealed class PbNode(IReadOnlyList<PbLink> links, ReadOnlyMemory<byte>? data)
{
    public IReadOnlyList<PbLink> Links { get; } = links;

    /// <summary>The node's Data field (UnixFS data in a bundle); null when the node has none.</summary>
    public ReadOnlyMemory<byte>? Data { get; } = data;
}

/// <summary>
/// The dag-pb codec's decoder: PBNode { repeated PBLink Links = 2; optional bytes Data = 1; } and
/// PBLink { bytes Hash = 1; string Name = 2; uint64 Tsize = 3; }. A pure function of the block's bytes.
/// Duplicate singular fields are refused rather than resolved last-wins: two parsers must never see two files.
/// </summary>
public static class DagPb
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public static PbNode Decode(ReadOnlyMemory<byte> block)
    {
        var reader = new ProtoReader(block.Span, "dag-pb node");
        var links = new List<PbLink>();
        ReadOnlyMemory<byte>? data = null;
        while (!reader.End)
        {
            int field = reader.ReadTag(out WireType wireType);
            switch (field)
            {
                case 1:
                    reader.Expect(field, wireType, WireType.LengthDelimited);
                    Range range = reader.ReadLengthDelimited();
                    if (data is not null)
                        reader.Fail("it has two Data fields");
                    data = block[range];
                    break;
                case 2:
                    reader.Expect(field, wireType, WireType.LengthDelimited);
                    links.Add(DecodeLink(block.Span[reader.ReadLengthDelimited()], links.Count));
                    break;
                default:
                    reader.Skip(wireType);
                    break;
            }
        }

        return new PbNode(links, data);
    }

    private static PbLink DecodeLink(ReadOnlySpan<byte> bytes, int index)
    {
        var reader = new ProtoReader(bytes, $"dag-pb link #{index}");
        Cid? cid = null;
        string? name = null;
        ulong? tsize = null;
        while (!reader.End)
        {
            int field = reader.ReadTag(out WireType wireType);
            switch (field)
            {
                case 1:
                    reader.Expect(field, wireType, WireType.LengthDelimited);
                    ReadOnlySpan<byte> hash = bytes[reader.ReadLengthDelimited()];
                    if (cid is not null)
                        reader.Fail("it has two Hash fields");
                    cid = LinkCid(hash, index);
                    break;
                case 2:
                    reader.Expect(field, wireType, WireType.LengthDelimited);
                    ReadOnlySpan<byte> text = bytes[reader.ReadLengthDelimited()];
                    if (name is not null)
                        reader.Fail("it has two Name fields");
                    try
                    {
                        name = StrictUtf8.GetString(text);
                    }
                    catch (DecoderFallbackException)
                    {
                        reader.Fail("its Name is not valid UTF-8");
                    }

                    break;
                case 3:
                    reader.Expect(field, wireType, WireType.Varint);
                    ulong size = reader.ReadVarint();
                    if (tsize is not null)
                        reader.Fail("it has two Tsize fields");
                    tsize = size;
                    break;
                default:
                    reader.Skip(wireType);
                    break;
            }
        }

        if (cid is null)
            reader.Fail("it has no Hash");
        return new PbLink(cid, name, tsize);
    }

    private static Cid LinkCid(ReadOnlySpan<byte> hash, int index)
    {
        if (!Cid.TryRead(hash, out Cid? cid, out int consumed, out CidProblem problem))
        {
            BundleError error = problem.Error == BundleError.UnsupportedAddress ? BundleError.UnsupportedAddress : BundleError.DagMalformed;
            BundleThrow.Throw(error, $"dag-pb link #{index} has a bad Hash: {problem.Message}");
        }

        if (consumed != hash.Length)
            BundleThrow.Throw(BundleError.DagMalformed, $"dag-pb link #{index} has {hash.Length - consumed} bytes after its CID");
        return cid;
    }
}
