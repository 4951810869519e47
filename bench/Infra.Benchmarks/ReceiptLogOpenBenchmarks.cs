using BenchmarkDotNet.Attributes;
using InfraMind.Node.Crypto;
using InfraMind.Node.Receipts;

namespace InfraMind.Node.Benchmarks;

/// <summary>
/// A node's start reading its receipt log of 4,096 receipts: every signature checked (the baseline: a log no start has
/// checked yet, and what every start paid before the verified prefix) against a log an earlier start checked
/// (<see cref="VerifiedPrefix"/>: only the job ids are read). Both read the same file from the page cache.
/// </summary>
[MemoryDiagnoser]
public class ReceiptLogOpenBenchmarks : IDisposable
{
    private const int Receipts = 4096;
    private string _folder = "";

    [GlobalSetup]
    public void Setup()
    {
        _folder = Directory.CreateTempSubdirectory("receiptlog-open-").FullName;
        NodeKey.TryCreate(Convert.FromHexString("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"), out NodeKey? key);
        var signer = new ReceiptSigner(key!, 31337);
        using (var file = new FileStream(Path.Combine(_folder, ReceiptLog.FileName), FileMode.CreateNew))
        {
            var record = new byte[LogRecord.SizeOf(LogRecord.MaxPayload)];
            for (int i = 0; i < Receipts; i++)
            {
                byte[] json = signer.Sign(Receipt($"job-{i:D6}")).ToJson();
                file.Write(record, 0, LogRecord.Write(LogRecordKind.Receipt, json, record));
            }
        }

        int checkedAll = OpenCheckingEverySignature();
        int checkedNone = OpenAfterAStartCheckedThem();
        if (checkedAll != Receipts || checkedNone != 0)
            throw new InvalidOperationException($"expected {Receipts} and 0 signatures checked, got {checkedAll} and {checkedNone}");
    }

    [Benchmark(Baseline = true)]
    public int OpenCheckingEverySignature()
    {
        File.Delete(Path.Combine(_folder, VerifiedPrefix.FileName));
        using ReceiptLog log = ReceiptLog.Open(_folder);
        return log.Recovery.SignaturesChecked;
    }

    [Benchmark]
    public int OpenAfterAStartCheckedThem()
    {
        using ReceiptLog log = ReceiptLog.Open(_folder);
        return log.Recovery.SignaturesChecked;
    }

    [GlobalCleanup]
    public void Dispose()
    {
        if (_folder.Length > 0 && Directory.Exists(_folder))
            Directory.Delete(_folder, recursive: true);
        GC.SuppressFinalize(this);
    }

    private static Receipt Receipt(string jobId) => new(
        jobId,
        Keccak256.Hash("job"u8),
        "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi",
        Keccak256.Hash("image"u8),
        Keccak256.Hash("output"u8),
        ReceiptStatus.Succeeded,
        LatencyMs: 1234,
        StartedAt: 1_700_000_098,
        FinishedAt: 1_700_000_099,
        CpuMs: 987,
        PeakMemoryBytes: 512UL << 20,
        Node: default,
        Timestamp: 1_700_000_100);
}
