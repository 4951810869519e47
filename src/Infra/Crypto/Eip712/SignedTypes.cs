namespace InfraMind.Node.Crypto.Eip712;

/// <summary>The struct types the node signs or verifies, exactly as CONTRACT.md §2–§7 define them.</summary>
public static class SignedTypes
{
    public static readonly Eip712Type Domain = new(
        "EIP712Domain",
        new("name", "string"),
        new("version", "string"),
        new("chainId", "uint256"));

    public static readonly Eip712Type Job = new(
        "Job",
        new("jobId", "string"),
        new("modelHash", "string"),
        new("containerUri", "string"),
        new("entrypoint", "string"),
        new("inputSchema", "string"),
        new("outputSchema", "string"),
        new("inputHash", "bytes32"),
        new("deadline", "uint64"),
        new("node", "address"));

    public static readonly Eip712Type Rejection = new(
        "Rejection",
        new("jobId", "string"),
        new("jobHash", "bytes32"),
        new("reason", "string"),
        new("node", "address"),
        new("timestamp", "uint64"));

    public static readonly Eip712Type Hello = new(
        "Hello",
        new("node", "address"),
        new("region", "string"),
        new("version", "string"),
        new("capabilitiesHash", "bytes32"),
        new("timestamp", "uint64"));

    public static readonly Eip712Type Receipt = new(
        "Receipt",
        new("jobId", "string"),
        new("jobHash", "bytes32"),
        new("modelRef", "string"),
        new("imageDigest", "bytes32"),
        new("outputHash", "bytes32"),
        new("status", "string"),
        new("latencyMs", "uint64"),
        new("startedAt", "uint64"),
        new("finishedAt", "uint64"),
        new("cpuMs", "uint64"),
        new("peakMemoryBytes", "uint64"),
        new("node", "address"),
        new("timestamp", "uint64"));

    public static readonly Eip712Type ReceiptBatch = new(
        "ReceiptBatch",
        new("root", "bytes32"),
        new("count", "uint64"),
        new("fromTimestamp", "uint64"),
        new("toTimestamp", "uint64"),
        new("node", "address"));
}
