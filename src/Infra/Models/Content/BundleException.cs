using System.Diagnostics.CodeAnalysis;

namespace InfraMind.Node.Models.Content;

/// <summary>Why a content address or a fetched bundle was refused; callers branch on this, never on message text.</summary>
public enum BundleError
{
    /// <summary>A CID or content address is malformed: a bad character, a bad length, a truncated binary form.</summary>
    BadAddress,

    /// <summary>A well-formed CID the node does not accept: another codec, another hash, the identity hash, another multibase.</summary>
    UnsupportedAddress,

    /// <summary>The CAR stream breaks CARv1 framing or its header is not the expected dag-cbor map.</summary>
    CarMalformed,

    /// <summary>A CAR header or block is over the size limit.</summary>
    BlockTooLarge,

    /// <summary>A block's bytes do not hash to the digest its CID names.</summary>
    BlockHashMismatch,

    /// <summary>The CAR's root is not the CID that was asked for (or it names more than one root).</summary>
    RootMismatch,

    /// <summary>The DAG links to a block the CAR did not carry.</summary>
    MissingBlock,

    /// <summary>The CAR carried a block that the DAG under the root never reaches.</summary>
    UnexpectedBlock,

    /// <summary>A dag-pb node or its UnixFS data is malformed or inconsistent (sizes, duplicate fields, duplicate names).</summary>
    DagMalformed,

    /// <summary>A directory entry's name could escape or break the output folder ("", ".", "..", '/', NUL).</summary>
    UnsafeName,

    /// <summary>Valid IPFS data the node does not unpack: CARv2, HAMT-sharded directories, symlinks, metadata nodes.</summary>
    Unsupported,

    /// <summary>The bundle, the CAR stream or the DAG walk is over the caller's limit.</summary>
    TooLarge,

    /// <summary>The CAR stream ended in the middle of its header or of a block.</summary>
    Truncated,

    /// <summary>The output folder already exists; the reader never writes over one.</summary>
    OutputExists,
}

/// <summary>A refused content address or bundle: what kind of failure, and words that name it and the fix.</summary>
public sealed class BundleException(BundleError error, string message, Exception? inner = null) : Exception(message, inner)
{
    public BundleError Error { get; } = error;
}

/// <summary>Throws from one place so the parsers' hot loops stay small.</summary>
internal static class BundleThrow
{
    [DoesNotReturn]
    public static void Throw(BundleError error, string message) => throw new BundleException(error, message);

    [DoesNotReturn]
    public static T Throw<T>(BundleError error, string message) => throw new BundleException(error, message);
}
