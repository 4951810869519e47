using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using InfraMind.Node.Crypto;
using InfraMind.Node.Crypto.Eip712;
using InfraMind.Node.Crypto.Merkle;
using InfraMind.Node.Receipts;
using InfraMind.Node.Tests.Support;

namespace InfraMind.Node.Tests.Receipts;

public class ReceiptBatchTests
{
    private static readonly ReceiptSigner Signer = ReceiptSamples.Signer();

    // The agent's signer: the same key, with nonces from its pool (the refiller runs for the test process's life).
    private static readonly ReceiptSigner PrecomputedSigner = new(ReceiptSamples.Key(), ReceiptSamples.ChainId, NonceSource.Precomputed);

    private static List<SignedReceipt> Receipts(int count, ReceiptSigner? signer = null) =>
        Enumerable.Range(0, count).Select(i => (signer ?? Signer).Sign(ReceiptSamples.Receipt($"job-{i}", timestamp: 1_700_000_000 + (ulong)(i * 7 % 5)))).ToList();

    [Fact]
    public void A_batch_is_the_standard_tree_of_the_receipt_digests_with_a_signed_root()
    {
        List<SignedReceipt> receipts = Receipts(5);
        Assert.True(new ReceiptBatcher(Signer).TryBuild(receipts, out SignedReceiptBatch? batch));

        StandardMerkleTree expected = StandardMerkleTree.Of(receipts.Select(r => r.Digest).ToArray());
        Assert.Equal(expected.Root, batch!.Batch.Root);
        Assert.Equal(5UL, batch.Batch.Count);
        Assert.Equal(1_700_000_000UL, batch.Batch.FromTimestamp);
        Assert.Equal(1_700_000_004UL, batch.Batch.ToTimestamp);
        Assert.Equal(new Eip712Domain(ReceiptSamples.ChainId).Digest(batch.Batch), batch.Digest);
        Hash32 digest = batch.Digest;
        Assert.True(EthSignature.Verify(digest, batch.Signature, Signer.Node));
        for (int i = 0; i < receipts.Count; i++)
            Assert.True(StandardMerkleTree.Verify(batch.Batch.Root, receipts[i].Digest, batch.Tree.GetProof(i)));

        JsonElement json = JsonDocument.Parse(batch.ToJson()).RootElement;
        Assert.Equal(["dump", "root", "count", "from_timestamp", "to_timestamp", "node", "signature", "eip712"], json.EnumerateObject().Select(p => p.Name));
        Assert.Equal("standard-v1", json.GetProperty("dump").GetProperty("format").GetString());
        Assert.Equal("ReceiptBatch", json.GetProperty("eip712").GetProperty("primaryType").GetString());
        Assert.True(StandardMerkleTree.TryLoad(System.Text.Encoding.UTF8.GetBytes(json.GetProperty("dump").GetRawText()), out StandardMerkleTree? loaded, out _));
        Assert.Equal(expected.Root, loaded!.Root);
    }

    [Fact]
    public void The_current_batch_is_the_latest_receipts_up_to_its_cap()
    {
        Assert.Equal(4096, new ReceiptBatcher(Signer).MaxReceipts);
        List<SignedReceipt> receipts = Receipts(5);
        Assert.True(new ReceiptBatcher(Signer, maxReceipts: 3).TryBuild(receipts, out SignedReceiptBatch? batch));
        Assert.Equal(3UL, batch!.Batch.Count);
        Assert.Equal(StandardMerkleTree.Of(receipts[2..].Select(r => r.Digest).ToArray()).Root, batch.Batch.Root);
        // Timestamps 1_700_000_000 + (i * 7 % 5) for i = 2, 3, 4: 4, 1, 3.
        Assert.Equal(1_700_000_001UL, batch.Batch.FromTimestamp);
        Assert.Equal(1_700_000_004UL, batch.Batch.ToTimestamp);
        Assert.Throws<ArgumentOutOfRangeException>(() => new ReceiptBatcher(Signer, maxReceipts: 0));
    }

    [Fact]
    public void No_receipts_make_no_batch_and_a_foreign_receipt_is_refused()
    {
        Assert.False(new ReceiptBatcher(Signer).TryBuild([], out _));
        using NodeKey other = NodeKey.Generate(new byte[32]);
        SignedReceipt foreign = new ReceiptSigner(other, ReceiptSamples.ChainId).Sign(ReceiptSamples.Receipt("x"));
        Assert.Throws<ReceiptException>(() => new ReceiptBatcher(Signer).TryBuild([.. Receipts(2), foreign], out _));
        SignedReceipt otherChain = new ReceiptSigner(ReceiptSamples.Key(), 1).Sign(ReceiptSamples.Receipt("y"));
        Assert.Throws<ReceiptException>(() => new ReceiptBatcher(Signer).TryBuild([otherChain], out _));
    }

    /// <summary>
    /// tests/vectors/merkle/verify-receipts.mjs checks the node's files with ethers and @openzeppelin/merkle-tree
    /// alone: verifyTypedData on every receipt, rejection and batch, StandardMerkleTree.load on the dump. Once with
    /// RFC 6979 signatures, once with the agent's precomputed nonces.
    /// </summary>
    [Theory]
    [InlineData(NonceSource.Deterministic)]
    [InlineData(NonceSource.Precomputed)]
    public async Task The_reference_libraries_verify_what_the_node_wrote(NonceSource nonces)
    {
        string? scripts = PrepareScripts();
        if (scripts is null)
            return; // node is not installed; the message was written by PrepareScripts.

        ReceiptSigner signer = nonces == NonceSource.Precomputed ? PrecomputedSigner : Signer;
        using var folder = new TempFolder();
        List<SignedReceipt> receipts = Receipts(33, signer);
        receipts.Add(signer.Sign(ReceiptSamples.Receipt("big-numbers", peakMemory: ulong.MaxValue)));
        receipts.Add(signer.Sign(ReceiptSamples.Receipt("unicode-é-😀")));
        for (int i = 0; i < receipts.Count; i++)
            await File.WriteAllBytesAsync(folder[$"{i:D3}.receipt.json"], receipts[i].ToJson());
        await File.WriteAllBytesAsync(folder["r.rejection.json"], signer.Sign(ReceiptSamples.Rejection("rejected-1")).ToJson());
        Assert.True(new ReceiptBatcher(signer).TryBuild(receipts, out SignedReceiptBatch? batch));
        await File.WriteAllBytesAsync(folder["current.batch.json"], batch!.ToJson());

        (int code, string output) = await Node(scripts, folder.Path);
        Assert.True(code == 0, output);
        Assert.Contains("35 receipts, 1 rejections, 1 batches verified; 0 failures", output, StringComparison.Ordinal);

        // The script can fail: a receipt altered in both places no longer verifies.
        JsonObject altered = JsonNode.Parse(receipts[0].ToJson())!.AsObject();
        altered["cpu_ms"] = 1;
        altered["eip712"]!["message"]!["cpuMs"] = "1";
        await File.WriteAllTextAsync(folder["000.receipt.json"], altered.ToJsonString());
        (code, output) = await Node(scripts, folder.Path);
        Assert.True(code == 1, output);
        Assert.Contains("FAIL 000.receipt.json", output, StringComparison.Ordinal);
    }

    private static string? PrepareScripts()
    {
        string dir = Path.Combine(ReceiptSamples.RepositoryRoot(), "tests", "vectors", "merkle");
        if (!CanRun("node", "--version"))
        {
            Console.Error.WriteLine("node is not installed: the reference-library check of receipts was skipped");
            return null;
        }

        if (!Directory.Exists(Path.Combine(dir, "node_modules", "@openzeppelin", "merkle-tree")))
        {
            using Process npm = Process.Start(new ProcessStartInfo("npm", "ci --no-audit --no-fund --silent") { WorkingDirectory = dir })!;
            npm.WaitForExit();
            Assert.True(npm.ExitCode == 0, "npm ci in tests/vectors/merkle failed");
        }

        return dir;
    }

    private static bool CanRun(string file, string arguments)
    {
        try
        {
            using Process p = Process.Start(new ProcessStartInfo(file, arguments) { RedirectStandardOutput = true })!;
            p.WaitForExit();
            return p.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false;
        }
    }

    private static async Task<(int Code, string Output)> Node(string scripts, string dir)
    {
        var start = new ProcessStartInfo("node") { WorkingDirectory = scripts, RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add("verify-receipts.mjs");
        start.ArgumentList.Add(dir);
        using Process process = Process.Start(start)!;
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await stdout + await stderr);
    }
}
