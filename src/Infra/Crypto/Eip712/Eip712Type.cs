using System.Text;

namespace InfraMind.Node.Crypto.Eip712;

/// <summary>One member of an EIP-712 struct type: its name and Solidity type.</summary>
public readonly record struct Eip712Field(string Name, string Type);

/// <summary>
/// An EIP-712 struct type. Its field list is the single source for the type string, the type hash and the
/// <c>types</c> block that receipts carry, so hashing and what is published cannot drift apart.
/// </summary>
public sealed class Eip712Type
{
    private readonly Hash32 _typeHash;

    public Eip712Type(string name, params Eip712Field[] fields)
    {
        Name = name;
        Fields = fields;
        EncodedType = $"{name}({string.Join(',', fields.Select(f => $"{f.Type} {f.Name}"))})";
        _typeHash = Keccak256.Hash(Encoding.UTF8.GetBytes(EncodedType));
    }

    public string Name { get; }

    public IReadOnlyList<Eip712Field> Fields { get; }

    /// <summary>The EIP-712 encodeType string, e.g. <c>Hello(address node,string region,...)</c>.</summary>
    public string EncodedType { get; }

    /// <summary>keccak256 of <see cref="EncodedType"/>.</summary>
    public ReadOnlySpan<byte> TypeHash => _typeHash;
}
