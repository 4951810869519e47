using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;
using InfraMind.Node.Crypto;

namespace InfraMind.Node.Models.Content;

/// <summary>The two IPLD codecs a model bundle may use: UnixFS nodes and raw file bytes.</summary>
public enum CidCodec
{
    Raw = 0x55,
    DagPb = 0x70,
}

/// <summary>Why a binary CID could not be read, and whether more bytes would have helped.</summary>
internal readonly record struct CidProblem(BundleError Error, string Message, bool Truncated);

/// <summary>
/// A content identifier the node accepts: CIDv0 (base58btc "Qm…", dag-pb, sha2-256) or CIDv1 with codec dag-pb or
/// raw and a sha2-256 multihash. Everything else is refused by name: the node only runs bytes it can hash itself,
/// so identity hashes (data inline, nothing proven) and hashes it does not compute are turned away at parse time.
/// </summary>
public sealed class Cid : IEquatable<Cid>
{
    /// <summary>The multihash code of sha2-256.</summary>
    public const int Sha256Code = 0x12;

    public const int DigestLength = 32;

    /// <summary>Length of the binary form of a CIDv0 (0x12 0x20 + digest).</summary>
    public const int V0Length = 2 + DigestLength;

    private readonly Hash32 _digest;

    private Cid(int version, CidCodec codec, ReadOnlySpan<byte> digest)
    {
        Version = version;
        Codec = codec;
        digest.CopyTo(_digest);
    }

    public int Version { get; }

    public CidCodec Codec { get; }

    /// <summary>The sha2-256 digest of the block this CID names.</summary>
    public Hash32 Digest => _digest;

    /// <summary>Bytes of the binary form (<see cref="WriteTo"/>).</summary>
    public int BinaryLength => Version == 0 ? V0Length : 1 + Varint.Length((ulong)Codec) + 2 + DigestLength;

    /// <summary>The CIDv1 (sha2-256) of <paramref name="block"/> under <paramref name="codec"/>.</summary>
    public static Cid ForBlock(CidCodec codec, ReadOnlySpan<byte> block)
    {
        Span<byte> digest = stackalloc byte[DigestLength];
        SHA256.HashData(block, digest);
        return new Cid(1, codec, digest);
    }

    /// <summary>A CID from its parts; version 0 is only for dag-pb.</summary>
    public static Cid Create(int version, CidCodec codec, ReadOnlySpan<byte> digest)
    {
        if (version is not (0 or 1))
            ThrowHelper.ThrowArgument(nameof(version), "a CID version is 0 or 1");
        if (version == 0 && codec != CidCodec.DagPb)
            ThrowHelper.ThrowArgument(nameof(codec), "a CIDv0 is always dag-pb");
        if (codec is not (CidCodec.DagPb or CidCodec.Raw))
            ThrowHelper.ThrowArgument(nameof(codec), "the codec is dag-pb or raw");
        if (digest.Length != DigestLength)
            ThrowHelper.ThrowArgument(nameof(digest), "a sha2-256 digest is 32 bytes");
        return new Cid(version, codec, digest);
    }

    /// <summary>A CID from its parts; version 0 is only for dag-pb.</summary>
    public static Cid Create(int version, CidCodec codec, Hash32 digest) => Create(version, codec, (ReadOnlySpan<byte>)digest);

    /// <summary>The same block named as a CIDv1 (a CIDv0 becomes dag-pb v1; a v1 is returned as is).</summary>
    public Cid ToV1() => Version == 1 ? this : new Cid(1, Codec, _digest);

    /// <summary>True when both name the same block the same way, ignoring the version (Qm… and its bafy… twin).</summary>
    public bool SameContent(Cid? other) =>
        other is not null && Codec == other.Codec && ((ReadOnlySpan<byte>)_digest).SequenceEqual(other._digest);

    /// <summary>True when sha2-256 of <paramref name="block"/> is this CID's digest.</summary>
    public bool Verifies(ReadOnlySpan<byte> block)
    {
        Span<byte> digest = stackalloc byte[DigestLength];
        SHA256.HashData(block, digest);
        return CryptographicOperations.FixedTimeEquals(digest, _digest);
    }

    /// <summary>Parses a CID string; a refusal throws <see cref="BundleException"/> (BadAddress or UnsupportedAddress).</summary>
    public static Cid Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (!TryParse(text, out Cid? cid, out BundleError error, out string message))
            BundleThrow.Throw(error, message);
        return cid;
    }

    /// <summary>Parses a CID string; false with a message that says what is wrong with it.</summary>
    public static bool TryParse(string? text, [NotNullWhen(true)] out Cid? cid, out string error) =>
        TryParse(text, out cid, out _, out error);

    /// <summary>Parses a CID string; false with the kind of refusal and a message that says what is wrong with it.</summary>
    public static bool TryParse(string? text, [NotNullWhen(true)] out Cid? cid, out BundleError kind, out string error)
    {
        cid = null;
        kind = BundleError.BadAddress;
        error = "";
        if (string.IsNullOrEmpty(text))
        {
            error = "the CID is empty";
            return false;
        }

        string shown = text.Length <= 80 ? text : string.Concat(text.AsSpan(0, 77), "...");
        byte[]? bytes;
        int bad;
        if (text.StartsWith("Qm", StringComparison.Ordinal))
        {
            if (text.Length != 46)
            {
                error = $"'{shown}' looks like a CIDv0 but has {text.Length} characters; a CIDv0 has 46";
                return false;
            }

            bytes = Base58Btc.TryDecode(text, out bad);
            if (bytes is null)
            {
                error = $"'{shown}' has '{text[bad]}' at position {bad}, which is not base58btc";
                return false;
            }

            if (bytes.Length != V0Length || bytes[0] != Sha256Code || bytes[1] != DigestLength)
            {
                error = $"'{shown}' is not a CIDv0: it does not decode to a 34-byte sha2-256 multihash";
                return false;
            }

            cid = new Cid(0, CidCodec.DagPb, bytes.AsSpan(2));
            return true;
        }

        char prefix = text[0];
        ReadOnlySpan<char> body = text.AsSpan(1);
        string baseName;
        switch (prefix)
        {
            case 'b':
                baseName = "lowercase base32";
                bytes = Base32.TryDecode(body, upperCase: false, out bad);
                break;
            case 'B':
                baseName = "uppercase base32";
                bytes = Base32.TryDecode(body, upperCase: true, out bad);
                break;
            case 'z':
                baseName = "base58btc";
                bytes = Base58Btc.TryDecode(body, out bad);
                break;
            default:
                kind = OtherMultibase(prefix) is null ? BundleError.BadAddress : BundleError.UnsupportedAddress;
                error = OtherMultibase(prefix) is string other
                    ? $"'{shown}' is in multibase '{prefix}' ({other}), which the node does not read; write the CID in base32 ('b…') or base58btc ('z…' or 'Qm…')"
                    : $"'{shown}' starts with '{prefix}', which is no multibase prefix; a CID is 'Qm…' (v0) or 'b…', 'B…', 'z…' (v1)";
                return false;
        }

        if (bytes is null)
        {
            error = bad >= 0
                ? $"'{shown}' has '{text[bad + 1]}' at position {bad + 1}, which is not {baseName}"
                : $"'{shown}' is not canonical {baseName}: its length or its last character's unused bits are wrong";
            return false;
        }

        if (bytes.Length > 0 && bytes[0] == Sha256Code)
        {
            error = $"'{shown}' holds a CIDv0 behind a multibase prefix; a CIDv0 is written bare ('Qm…'), or convert it to CIDv1";
            return false;
        }

        if (!TryRead(bytes, out cid, out int consumed, out CidProblem problem))
        {
            kind = problem.Error;
            error = $"'{shown}': {problem.Message}";
            return false;
        }

        if (consumed != bytes.Length)
        {
            cid = null;
            error = $"'{shown}' has {bytes.Length - consumed} bytes after the digest";
            return false;
        }

        return true;
    }

    /// <summary>
    /// Reads a binary CID from the start of <paramref name="bytes"/> and returns the bytes it used. A refusal throws
    /// <see cref="BundleException"/> (BadAddress, also when the bytes end early, or UnsupportedAddress).
    /// </summary>
    public static Cid Read(ReadOnlySpan<byte> bytes, out int consumed)
    {
        if (!TryRead(bytes, out Cid? cid, out consumed, out CidProblem problem))
            BundleThrow.Throw(problem.Error, problem.Message);
        return cid;
    }

    internal static bool TryRead(ReadOnlySpan<byte> bytes, [NotNullWhen(true)] out Cid? cid, out int consumed, out CidProblem problem)
    {
        cid = null;
        consumed = 0;
        problem = default;
        if (bytes.IsEmpty)
            return Truncated(out problem, "the binary CID is empty");

        // A CIDv0 is a bare sha2-256 multihash; 0x12 can never be a CIDv1's version varint.
        if (bytes[0] == Sha256Code)
        {
            if (bytes.Length < 2)
                return Truncated(out problem, "the binary CIDv0 ends after its first byte");
            if (bytes[1] != DigestLength)
                return Bad(out problem, $"the CIDv0 says its sha2-256 digest is {bytes[1]} bytes; it must be 32");
            if (bytes.Length < V0Length)
                return Truncated(out problem, "the binary CIDv0 ends inside its digest");
            cid = new Cid(0, CidCodec.DagPb, bytes.Slice(2, DigestLength));
            consumed = V0Length;
            return true;
        }

        int at = 0;
        if (!ReadVarint(bytes, ref at, "version", out ulong version, out problem))
            return false;
        if (version == 0)
            return Bad(out problem, "the binary CID has version 0 but is not a bare sha2-256 multihash");
        if (version != 1)
            return Bad(out problem, $"CID version {version} does not exist; a CID is version 0 or 1");
        if (!ReadVarint(bytes, ref at, "codec", out ulong codec, out problem))
            return false;
        if (codec is not ((ulong)CidCodec.DagPb or (ulong)CidCodec.Raw))
            return Unsupported(out problem, $"codec 0x{codec:x}{Named(CodecName(codec))} is not supported; a model bundle is UnixFS: dag-pb (0x70) nodes and raw (0x55) leaves");
        if (!ReadVarint(bytes, ref at, "multihash code", out ulong hash, out problem))
            return false;
        if (hash == 0)
            return Unsupported(out problem, "the identity multihash carries its data inline and proves nothing; the node accepts only sha2-256 CIDs");
        if (hash != Sha256Code)
            return Unsupported(out problem, $"multihash 0x{hash:x}{Named(HashName(hash))} is not supported; the node verifies sha2-256 (0x12) only");
        if (!ReadVarint(bytes, ref at, "digest length", out ulong length, out problem))
            return false;
        // A shorter length is a truncated sha2-256 (legal multihash, too weak to accept); a longer one cannot exist.
        if (length < DigestLength)
            return Unsupported(out problem, $"the sha2-256 digest is truncated to {length} bytes; the node accepts only full 32-byte digests");
        if (length > DigestLength)
            return Bad(out problem, $"the sha2-256 digest length is {length} bytes; it must be 32");
        if (bytes.Length - at < DigestLength)
            return Truncated(out problem, "the binary CID ends inside its digest");
        cid = new Cid(1, (CidCodec)codec, bytes.Slice(at, DigestLength));
        consumed = at + DigestLength;
        return true;
    }

    /// <summary>Writes the binary form and returns its length; <paramref name="destination"/> holds at least <see cref="BinaryLength"/>.</summary>
    public int WriteTo(Span<byte> destination)
    {
        if (destination.Length < BinaryLength)
            ThrowHelper.ThrowArgument(nameof(destination), $"a binary CID needs {BinaryLength} bytes");
        int at = 0;
        if (Version == 1)
        {
            destination[at++] = 1;
            at += Varint.Write((ulong)Codec, destination[at..]);
        }

        destination[at++] = Sha256Code;
        destination[at++] = DigestLength;
        ((ReadOnlySpan<byte>)_digest).CopyTo(destination[at..]);
        return at + DigestLength;
    }

    public byte[] ToBytes()
    {
        var bytes = new byte[BinaryLength];
        WriteTo(bytes);
        return bytes;
    }

    /// <summary>CIDv0 in base58btc ("Qm…"), CIDv1 in lowercase base32 ("b…"), as IPFS tools print them.</summary>
    public override string ToString()
    {
        Span<byte> bytes = stackalloc byte[BinaryLength];
        WriteTo(bytes);
        return Version == 0 ? Base58Btc.Encode(bytes) : "b" + Base32.Encode(bytes);
    }

    public bool Equals(Cid? other) => other is not null && Version == other.Version && SameContent(other);

    public override bool Equals(object? obj) => obj is Cid other && Equals(other);

    public override int GetHashCode() => HashCode.Combine(BitConverter.ToInt32(_digest), Version, Codec);

    public static bool operator ==(Cid? left, Cid? right) => left is null ? right is null : left.Equals(right);

    public static bool operator !=(Cid? left, Cid? right) => !(left == right);

    private static bool ReadVarint(ReadOnlySpan<byte> bytes, ref int at, string what, out ulong value, out CidProblem problem)
    {
        problem = default;
        switch (Varint.TryRead(bytes[at..], out value, out int used))
        {
            case VarintStatus.Done:
                at += used;
                return true;
            case VarintStatus.Truncated:
                return Truncated(out problem, $"the binary CID ends inside its {what}");
            default:
                return Bad(out problem, $"the CID's {what} is not a valid varint (over 9 bytes or not in shortest form)");
        }
    }

    private static bool Bad(out CidProblem problem, string message)
    {
        problem = new CidProblem(BundleError.BadAddress, message, Truncated: false);
        return false;
    }

    private static bool Truncated(out CidProblem problem, string message)
    {
        problem = new CidProblem(BundleError.BadAddress, message, Truncated: true);
        return false;
    }

    private static bool Unsupported(out CidProblem problem, string message)
    {
        problem = new CidProblem(BundleError.UnsupportedAddress, message, Truncated: false);
        return false;
    }

    private static string Named(string? name) => name is null ? "" : $" ({name})";

    private static string? CodecName(ulong code) => code switch
    {
        0x51 => "cbor",
        0x71 => "dag-cbor",
        0x72 => "libp2p-key",
        0x78 => "git-raw",
        0x0129 => "dag-json",
        0x0200 => "json",
        _ => null,
    };

    private static string? HashName(ulong code) => code switch
    {
        0x11 => "sha1",
        0x13 => "sha2-512",
        0x14 => "sha3-512",
        0x16 => "sha3-256",
        0x1b => "keccak-256",
        0x1e => "blake3",
        0x1012 => "sha2-256-trunc254-padded",
        0xb220 => "blake2b-256",
        0xb260 => "blake2s-256",
        _ => null,
    };

    private static string? OtherMultibase(char prefix) => prefix switch
    {
        'f' or 'F' => "base16",
        'v' or 'V' => "base32hex",
        'c' or 'C' => "base32pad",
        't' or 'T' => "base32hexpad",
        'h' => "base32z",
        'k' or 'K' => "base36",
        'm' => "base64",
        'M' => "base64pad",
        'u' => "base64url",
        'U' => "base64urlpad",
        'Z' => "base58flickr",
        '0' => "base2",
        '7' => "base8",
        '9' => "base10",
        '1' => "bare base58 multihash (a CIDv0 starts with 'Qm')",
        _ => null,
    };
}
