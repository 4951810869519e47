using InfraMind.Node.Crypto.Eip712;

namespace InfraMind.Node.Tests.Crypto;

public class Eip712TypeTests
{
    /// <summary>The exact type strings of CONTRACT.md: the field lists are the node's only source for them.</summary>
    [Theory]
    [InlineData("Job", "Job(string jobId,string modelHash,string containerUri,string entrypoint,string inputSchema,string outputSchema,bytes32 inputHash,uint64 deadline,address node)")]
    [InlineData("Rejection", "Rejection(string jobId,bytes32 jobHash,string reason,address node,uint64 timestamp)")]
    [InlineData("Hello", "Hello(address node,string region,string version,bytes32 capabilitiesHash,uint64 timestamp)")]
    [InlineData("Receipt", "Receipt(string jobId,bytes32 jobHash,string modelRef,bytes32 imageDigest,bytes32 outputHash,string status,uint64 latencyMs,uint64 startedAt,uint64 finishedAt,uint64 cpuMs,uint64 peakMemoryBytes,address node,uint64 timestamp)")]
    [InlineData("ReceiptBatch", "ReceiptBatch(bytes32 root,uint64 count,uint64 fromTimestamp,uint64 toTimestamp,address node)")]
    [InlineData("EIP712Domain", "EIP712Domain(string name,string version,uint256 chainId)")]
    public void Type_strings_are_the_contracts(string name, string expected)
    {
        Eip712Type type = name switch
        {
            "Job" => SignedTypes.Job,
            "Rejection" => SignedTypes.Rejection,
            "Hello" => SignedTypes.Hello,
            "Receipt" => SignedTypes.Receipt,
            "ReceiptBatch" => SignedTypes.ReceiptBatch,
            _ => SignedTypes.Domain,
        };
        Assert.Equal(expected, type.EncodedType);
    }

    [Fact]
    public void The_domain_uses_the_contracts_name_and_version()
    {
        var domain = new Eip712Domain(1);
        Assert.Equal("InfraMind", domain.Name);
        Assert.Equal("1", domain.Version);
        Assert.NotEqual(domain.Separator.ToArray(), new Eip712Domain(2).Separator.ToArray());
    }
}
