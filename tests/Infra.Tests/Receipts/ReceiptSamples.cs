using System.Text;
using InfraMind.Node.Crypto;
using InfraMind.Node.Receipts;

namespace InfraMind.Node.Tests.Receipts;

/// <summary>A fixed node key (the ethers documentation's example key) and receipts made from a job id.</summary>
public static class ReceiptSamples
{
    public const ulong ChainId = 31337;

    public static NodeKey Key() =>
        NodeKey.TryCreate(Convert.FromHexString("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"), out NodeKey? key)
            ? key!
            : throw new InvalidOperationException("sample key refused");

    public static ReceiptSigner Signer() => new(Key(), ChainId);

    public static Hash32 HashOf(string text) => Keccak256.Hash(Encoding.UTF8.GetBytes(text));

    public static Receipt Receipt(string jobId, ulong timestamp = 1_700_000_100, ulong peakMemory = 512UL << 20) => new(
        jobId,
        HashOf("job:" + jobId),
        "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi",
        HashOf("image"),
        HashOf("output:" + jobId),
        ReceiptStatus.Succeeded,
        LatencyMs: 1234,
        StartedAt: timestamp - 2,
        FinishedAt: timestamp - 1,
        CpuMs: 987,
        PeakMemoryBytes: peakMemory,
        Node: default,
        Timestamp: timestamp);

    public static Rejection Rejection(string jobId) => new(jobId, HashOf("job:" + jobId), "deadline_passed", default, 1_700_000_200);

    /// <summary>The repository root, found by walking up to inframind-node.sln.</summary>
    public static string RepositoryRoot()
    {
        for (string? dir = AppContext.BaseDirectory; dir is not null; dir = Path.GetDirectoryName(dir))
        {
            if (File.Exists(Path.Combine(dir, "inframind-node.sln")))
                return dir;
        }

        throw new InvalidOperationException($"inframind-node.sln not found above {AppContext.BaseDirectory}");
    }
}
