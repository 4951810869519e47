using System.Diagnostics.CodeAnalysis;
using InfraMind.Node.Crypto;

namespace InfraMind.Node.Models.Content;

/// <summary>
/// What a job's <c>model_hash</c> names: an IPFS CID (the bundle is fetched as a CAR and verified block by block),
/// or <c>sha256:&lt;64 hex&gt;</c> (a single archive whose sha256 must match).
/// </summary>
public sealed class ContentAddress : IEquatable<ContentAddress>
{
    private const string Sha256Prefix = "sha256:";
    private const string Accepted = "a model_hash is a CID ('Qm…' CIDv0, or CIDv1 'bafy…'/'bafk…' in base32) or 'sha256:' followed by 64 hex digits";

    private readonly Hash32 _sha256;

    private ContentAddress(Cid? cid, Hash32 sha256)
    {
        Cid = cid;
        _sha256 = sha256;
    }

    /// <summary>The CID, when the address is one; null for a sha256 address.</summary>
    public Cid? Cid { get; }

    [MemberNotNullWhen(true, nameof(Cid))]
    public bool IsCid => Cid is not null;

    /// <summary>The digest of a sha256 address (for a CID address, use <see cref="Cid"/>).</summary>
    public Hash32 Sha256 => _sha256;

    public static ContentAddress FromCid(Cid cid)
    {
        ArgumentNullException.ThrowIfNull(cid);
        return new ContentAddress(cid, default);
    }

    public static ContentAddress FromSha256(Hash32 digest) => new(null, digest);

    public static bool TryParse(string? text, [NotNullWhen(true)] out ContentAddress? address, out string error) =>
        TryParse(text, out address, out _, out error);

    /// <summary>As above, with the kind of refusal: BadAddress, or UnsupportedAddress for a CID the node does not accept.</summary>
    public static bool TryParse(string? text, [NotNullWhen(true)] out ContentAddress? address, out BundleError kind, out string error)
    {
        address = null;
        kind = BundleError.BadAddress;
        error = "";
        if (string.IsNullOrWhiteSpace(text))
        {
            error = $"the model_hash is empty; {Accepted}";
            return false;
        }

        if (text.StartsWith(Sha256Prefix, StringComparison.OrdinalIgnoreCase))
        {
            ReadOnlySpan<char> hex = text.AsSpan(Sha256Prefix.Length);
            Hash32 digest = default;
            if (hex.Length != 64 || hex.StartsWith("0x", StringComparison.OrdinalIgnoreCase) || !Hex.TryDecode(hex, digest))
            {
                error = $"'{Shown(text)}' is not a sha256 address: after 'sha256:' come exactly 64 hex digits (it has {hex.Length} characters)";
                return false;
            }

            address = new ContentAddress(null, digest);
            return true;
        }

        if (!Cid.TryParse(text, out Cid? cid, out kind, out string cidError))
        {
            error = $"{cidError}; {Accepted}";
            return false;
        }

        address = new ContentAddress(cid, default);
        return true;
    }

    public static ContentAddress Parse(string text)
    {
        if (!TryParse(text, out ContentAddress? address, out BundleError kind, out string error))
            BundleThrow.Throw(kind, error);
        return address;
    }

    /// <summary>The CID as IPFS prints it, or "sha256:" and 64 lowercase hex digits.</summary>
    public override string ToString() =>
        Cid?.ToString() ?? string.Concat(Sha256Prefix, Convert.ToHexStringLower(_sha256));

    public bool Equals(ContentAddress? other) =>
        other is not null && (Cid is null ? other.Cid is null && _sha256 == other._sha256 : Cid.Equals(other.Cid));

    public override bool Equals(object? obj) => obj is ContentAddress other && Equals(other);

    public override int GetHashCode() => Cid?.GetHashCode() ?? _sha256.GetHashCode();

    private static string Shown(string text) => text.Length <= 80 ? text : string.Concat(text.AsSpan(0, 77), "...");
}
