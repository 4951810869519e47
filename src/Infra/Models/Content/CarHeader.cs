namespace InfraMind.Node.Models.Content;

/// <summary>
/// A CARv1 header: the dag-cbor map {"roots": [CID, …], "version": 1}. <see cref="Parse"/> is a strict decoder
/// for exactly that shape (definite lengths, shortest-form integers, no other keys, no duplicates, nothing
/// after the map), so a header that other tools would read differently is refused rather than guessed at.
/// </summary>
public sealed record CarHeader(int Version, IReadOnlyList<Cid> Roots)
{
    /// <summary>The dag-cbor tag for a CID; its byte string starts with 0x00 (the identity multibase).</summary>
    private const ulong CidTag = 42;

    public static CarHeader Parse(ReadOnlySpan<byte> bytes)
    {
        var reader = new CborReader(bytes);
        ulong entries = reader.ReadHead(CborReader.Map, "the header");
        if (entries is 0 or > 2)
            CborReader.Fail($"the header map has {entries} entries; a CAR header has 'roots' and 'version'");
        List<Cid>? roots = null;
        ulong? version = null;
        for (ulong i = 0; i < entries; i++)
        {
            ReadOnlySpan<byte> key = reader.ReadText("a header key");
            if (key.SequenceEqual("roots"u8))
            {
                if (roots is not null)
                    CborReader.Fail("the header has 'roots' twice");
                roots = ReadRoots(ref reader);
            }
            else if (key.SequenceEqual("version"u8))
            {
                if (version is not null)
                    CborReader.Fail("the header has 'version' twice");
                version = reader.ReadHead(CborReader.Unsigned, "'version'");
            }
            else
            {
                CborReader.Fail("the header has a key other than 'roots' and 'version'");
            }
        }

        if (!reader.End)
            CborReader.Fail("bytes follow the header map");
        if (version == 2)
            BundleThrow.Throw(BundleError.Unsupported, "the gateway sent a CARv2, which is not supported; ask it for CARv1 (Accept: application/vnd.ipld.car; version=1)");
        if (version != 1)
            CborReader.Fail(version is null ? "the header has no 'version'" : $"CAR version {version} does not exist; the node reads CARv1");
        if (roots is null)
            CborReader.Fail("the header has no 'roots'");
        return new CarHeader(1, roots);
    }

    private static List<Cid> ReadRoots(ref CborReader reader)
    {
        ulong count = reader.ReadHead(CborReader.Array, "'roots'");
        if (count > (ulong)reader.Remaining)
            CborReader.Fail($"'roots' says it has {count} entries, more than the header's bytes could hold");
        var roots = new List<Cid>((int)count);
        for (ulong i = 0; i < count; i++)
        {
            if (reader.ReadHead(CborReader.Tag, "a root") != CidTag)
                CborReader.Fail("a root is not tagged as a CID (tag 42)");
            ReadOnlySpan<byte> bytes = reader.ReadBytes("a root CID");
            if (bytes.IsEmpty || bytes[0] != 0)
                CborReader.Fail("a root CID's bytes do not start with 0x00");
            if (!Cid.TryRead(bytes[1..], out Cid? cid, out int consumed, out CidProblem problem))
            {
                if (problem.Error == BundleError.UnsupportedAddress)
                    BundleThrow.Throw(BundleError.UnsupportedAddress, $"the CAR's root: {problem.Message}");
                CborReader.Fail($"a root CID is malformed: {problem.Message}");
            }

            if (consumed != bytes.Length - 1)
                CborReader.Fail("a root CID has bytes after its digest");
            roots.Add(cid);
        }

        return roots;
    }

    /// <summary>The few dag-cbor items a CAR header holds; everything else is refused.</summary>
    private ref struct CborReader(ReadOnlySpan<byte> bytes)
    {
        public const int Unsigned = 0;
        public const int ByteString = 2;
        public const int TextString = 3;
        public const int Array = 4;
        public const int Map = 5;
        public const int Tag = 6;

        private readonly ReadOnlySpan<byte> _bytes = bytes;
        private int _at;

        public readonly bool End => _at == _bytes.Length;

        public readonly int Remaining => _bytes.Length - _at;

        /// <summary>Reads an item head of major type <paramref name="major"/> and returns its argument.</summary>
        public ulong ReadHead(int major, string what)
        {
            if (End)
                Fail($"it ends before {what}");
            byte initial = _bytes[_at++];
            if (initial >> 5 != major)
                Fail($"{what} is CBOR major type {initial >> 5}; expected {major}");
            int info = initial & 31;
            if (info < 24)
                return (ulong)info;
            if (info == 31)
                Fail($"{what} has an indefinite length, which dag-cbor forbids");
            if (info > 27)
                Fail($"{what} uses reserved additional information {info}");
            int size = 1 << (info - 24);
            if (Remaining < size)
                Fail($"it ends inside {what}");
            ulong value = 0;
            for (int i = 0; i < size; i++)
                value = (value << 8) | _bytes[_at++];
            ulong smallest = size == 1 ? 24 : 1UL << (4 * size);
            if (value < smallest)
                Fail($"{what} is not in its shortest form, which dag-cbor requires");
            return value;
        }

        public ReadOnlySpan<byte> ReadText(string what) => ReadString(TextString, what);

        public ReadOnlySpan<byte> ReadBytes(string what) => ReadString(ByteString, what);

        private ReadOnlySpan<byte> ReadString(int major, string what)
        {
            ulong length = ReadHead(major, what);
            if (length > (ulong)Remaining)
                Fail($"{what} says it is {length} bytes but only {Remaining} remain");
            ReadOnlySpan<byte> value = _bytes.Slice(_at, (int)length);
            _at += (int)length;
            return value;
        }

        [System.Diagnostics.CodeAnalysis.DoesNotReturn]
        public static void Fail(string detail) =>
            BundleThrow.Throw(BundleError.CarMalformed, $"the CAR header is malformed: {detail}");
    }
}
