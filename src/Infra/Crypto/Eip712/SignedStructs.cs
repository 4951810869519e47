namespace InfraMind.Node.Crypto.Eip712;

// One value type per signed struct; each HashStruct writes the fields in the order SignedTypes declares,
// which the tests check against the contract's type strings and against ethers' hashes.

/// <summary>A scheduler's job assignment (CONTRACT.md §3).</summary>
public readonly record struct JobStruct(
    string JobId,
    string ModelHash,
    string ContainerUri,
    string Entrypoint,
    string InputSchema,
    string OutputSchema,
    Hash32 InputHash,
    ulong Deadline,
    Address Node) : ISignedStruct
{
    public static Eip712Type Type => SignedTypes.Job;

    public Hash32 HashStruct()
    {
        var h = new StructHasher(Type);
        h.AddString(JobId);
        h.AddString(ModelHash);
        h.AddString(ContainerUri);
        h.AddString(Entrypoint);
        h.AddString(InputSchema);
        h.AddString(OutputSchema);
        h.AddBytes32(InputHash);
        h.AddUint64(Deadline);
        h.AddAddress(Node);
        return h.Finish();
    }
}

/// <summary>The node's signed refusal of a job (CONTRACT.md §5).</summary>
public readonly record struct RejectionStruct(
    string JobId,
    Hash32 JobHash,
    string Reason,
    Address Node,
    ulong Timestamp) : ISignedStruct
{
    public static Eip712Type Type => SignedTypes.Rejection;

    public Hash32 HashStruct()
    {
        var h = new StructHasher(Type);
        h.AddString(JobId);
        h.AddBytes32(JobHash);
        h.AddString(Reason);
        h.AddAddress(Node);
        h.AddUint64(Timestamp);
        return h.Finish();
    }
}

/// <summary>The node's registration with the mesh (CONTRACT.md §5).</summary>
public readonly record struct HelloStruct(
    Address Node,
    string Region,
    string Version,
    Hash32 CapabilitiesHash,
    ulong Timestamp) : ISignedStruct
{
    public static Eip712Type Type => SignedTypes.Hello;

    public Hash32 HashStruct()
    {
        var h = new StructHasher(Type);
        h.AddAddress(Node);
        h.AddString(Region);
        h.AddString(Version);
        h.AddBytes32(CapabilitiesHash);
        h.AddUint64(Timestamp);
        return h.Finish();
    }
}

/// <summary>Proof that the node served a job (CONTRACT.md §7).</summary>
public readonly record struct ReceiptStruct(
    string JobId,
    Hash32 JobHash,
    string ModelRef,
    Hash32 ImageDigest,
    Hash32 OutputHash,
    string Status,
    ulong LatencyMs,
    ulong StartedAt,
    ulong FinishedAt,
    ulong CpuMs,
    ulong PeakMemoryBytes,
    Address Node,
    ulong Timestamp) : ISignedStruct
{
    public static Eip712Type Type => SignedTypes.Receipt;

    public Hash32 HashStruct()
    {
        var h = new StructHasher(Type);
        h.AddString(JobId);
        h.AddBytes32(JobHash);
        h.AddString(ModelRef);
        h.AddBytes32(ImageDigest);
        h.AddBytes32(OutputHash);
        h.AddString(Status);
        h.AddUint64(LatencyMs);
        h.AddUint64(StartedAt);
        h.AddUint64(FinishedAt);
        h.AddUint64(CpuMs);
        h.AddUint64(PeakMemoryBytes);
        h.AddAddress(Node);
        h.AddUint64(Timestamp);
        return h.Finish();
    }
}

/// <summary>The signed root of a Merkle batch of receipts (CONTRACT.md §7).</summary>
public readonly record struct ReceiptBatchStruct(
    Hash32 Root,
    ulong Count,
    ulong FromTimestamp,
    ulong ToTimestamp,
    Address Node) : ISignedStruct
{
    public static Eip712Type Type => SignedTypes.ReceiptBatch;

    public Hash32 HashStruct()
    {
        var h = new StructHasher(Type);
        h.AddBytes32(Root);
        h.AddUint64(Count);
        h.AddUint64(FromTimestamp);
        h.AddUint64(ToTimestamp);
        h.AddAddress(Node);
        return h.Finish();
    }
}
