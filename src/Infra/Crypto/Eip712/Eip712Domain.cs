namespace InfraMind.Node.Crypto.Eip712;

/// <summary>
/// The signing domain of CONTRACT.md §2: <c>{ name: "InfraMind", version: "1", chainId }</c>.
/// Its separator is computed once; every digest reuses it.
/// </summary>
public sealed class Eip712Domain
{
    public const string ProtocolName = "InfraMind";
    public const string ProtocolVersion = "1";

    private readonly Hash32 _separator;

    public Eip712Domain(ulong chainId)
        : this(ProtocolName, ProtocolVersion, chainId)
    {
    }

    public Eip712Domain(string name, string version, ulong chainId)
    {
        Name = name;
        Version = version;
        ChainId = chainId;
        var hasher = new StructHasher(SignedTypes.Domain);
        hasher.AddString(name);
        hasher.AddString(version);
        hasher.AddUint64(chainId);
        _separator = hasher.Finish();
    }

    public string Name { get; }

    public string Version { get; }

    public ulong ChainId { get; }

    public ReadOnlySpan<byte> Separator => _separator;

    /// <summary>The EIP-712 digest keccak256(0x19 0x01 ‖ domainSeparator ‖ hashStruct(message)): what gets signed.</summary>
    public Hash32 Digest<T>(in T message)
        where T : struct, ISignedStruct
    {
        Hash32 structHash = message.HashStruct();
        var keccak = default(Keccak256);
        keccak.Append([0x19, 0x01]);
        keccak.Append(_separator);
        keccak.Append(structHash);
        Hash32 digest = default;
        keccak.Finish(digest);
        return digest;
    }
}

/// <summary>A message that is one of <see cref="SignedTypes"/>: it knows its type and how to hash itself.</summary>
public interface ISignedStruct
{
    static abstract Eip712Type Type { get; }

    Hash32 HashStruct();
}
