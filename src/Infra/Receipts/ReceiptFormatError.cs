namespace InfraMind.Node.Receipts;

/// <summary>Why a receipt, rejection or batch document was refused.</summary>
public enum ReceiptFormatReason
{
    None,

    /// <summary>Larger than <see cref="TypedDataJson.MaxDocumentBytes"/>.</summary>
    TooLarge,

    /// <summary>Not JSON, or JSON with duplicate members, comments or trailing commas.</summary>
    NotJson,

    /// <summary>A member that this format does not have.</summary>
    UnknownField,

    /// <summary>A member the format requires is absent.</summary>
    MissingField,

    /// <summary>A member of the wrong JSON type, or a value out of its type's range (bad hex, bad address, not a uint64).</summary>
    BadValue,

    /// <summary>A top-level field differs from the same field in the <c>eip712.message</c> that was signed.</summary>
    Mismatch,

    /// <summary>The EIP-712 domain is not <c>{ name: "InfraMind", version: "1", chainId }</c>.</summary>
    Domain,

    /// <summary>The <c>types</c> block is not the contract's type for this document.</summary>
    Types,

    /// <summary><c>primaryType</c> is not this document's type.</summary>
    PrimaryType,

    /// <summary>The signature is malformed, high-s, or does not recover to <c>node</c>.</summary>
    Signature,
}

/// <summary>A refusal: the reason to branch on, and the field it concerns for the message.</summary>
public readonly record struct ReceiptFormatError(ReceiptFormatReason Reason, string Field)
{
    public static ReceiptFormatError None => new(ReceiptFormatReason.None, "");

    /// <summary>One line naming the problem and what to do about it.</summary>
    public string Message => Reason switch
    {
        ReceiptFormatReason.None => "no error",
        ReceiptFormatReason.TooLarge => $"the document is larger than {TypedDataJson.MaxDocumentBytes} bytes; it is not a receipt this node wrote",
        ReceiptFormatReason.NotJson => "the document is not strict JSON (duplicate members, comments and trailing commas are refused); check the file is a receipt",
        ReceiptFormatReason.UnknownField => $"unknown field '{Field}'; a receipt carries only the CONTRACT.md §7 fields",
        ReceiptFormatReason.MissingField => $"field '{Field}' is missing; a receipt must carry every CONTRACT.md §7 field",
        ReceiptFormatReason.BadValue => $"field '{Field}' has the wrong type or value (hashes are 0x + 64 hex, addresses 0x + 40 hex, integers unsigned 64-bit)",
        ReceiptFormatReason.Mismatch => $"field '{Field}' differs from the signed eip712.message; the document was altered after signing",
        ReceiptFormatReason.Domain => $"the EIP-712 domain ({Field}) is not {{ name: \"InfraMind\", version: \"1\", chainId }}",
        ReceiptFormatReason.Types => $"the eip712.types block ({Field}) is not the contract's type string; the signer used another schema",
        ReceiptFormatReason.PrimaryType => $"eip712.primaryType is not '{Field}'",
        ReceiptFormatReason.Signature => $"the signature {Field}; the document was altered or signed by another key",
        _ => Reason.ToString(),
    };
}

/// <summary>A receipt or rejection that cannot be signed as given (the caller's bug, not outside input).</summary>
public sealed class ReceiptException : Exception
{
    public ReceiptException(ReceiptFormatReason reason, string message)
        : base(message)
    {
        Reason = reason;
    }

    public ReceiptException(ReceiptFormatError error)
        : this(error.Reason, error.Message)
    {
    }

    public ReceiptFormatReason Reason { get; }
}
