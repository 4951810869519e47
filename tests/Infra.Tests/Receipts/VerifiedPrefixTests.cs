using System.Text;
using InfraMind.Node.Crypto;
using InfraMind.Node.Receipts;
using InfraMind.Node.Tests.Support;

namespace InfraMind.Node.Tests.Receipts;

/// <summary>
/// A start checks the signatures of the records logged since an earlier start checked them, and of every record when
/// it cannot tell (<see cref="VerifiedPrefix"/>).
/// </summary>
public class VerifiedPrefixTests
{
    private static readonly ReceiptSigner Signer = ReceiptLogTests.Signer;

    private static SignedReceipt Sign(string jobId) => ReceiptLogTests.Sign(jobId);

    private static string PrefixFile(TempFolder folder) => folder[VerifiedPrefix.FileName];

    private static long[] Fill(TempFolder folder, params string[] jobs) => ReceiptLogTests.Fill(folder, jobs);

    private static byte[] Frame(LogRecordKind kind, byte[] payload) => ReceiptLogTests.Frame(kind, payload);

    private static RecoveryReport Reopen(TempFolder folder)
    {
        using ReceiptLog log = ReceiptLog.Open(folder.Path);
        return log.Recovery;
    }

    [Fact]
    public void A_start_checks_only_the_records_logged_since_a_start_last_checked_them()
    {
        using var folder = new TempFolder();
        using (ReceiptLog log = ReceiptLog.Open(folder.Path))
        {
            log.Append(Sign("a"));
            log.Append(Sign("b"));
            Assert.True(log.TryAppend(Signer.Sign(ReceiptSamples.Rejection("r"))));
            Assert.True(log.MarkAcked("a"));
        }

        // Closing saved the prefix: the node wrote these itself and nothing changed them since.
        RecoveryReport second = Reopen(folder);
        Assert.Equal((2, 1, 1, 0), (second.Receipts, second.Rejections, second.Acks, second.SignaturesChecked));

        // Without the saved prefix (a log from before it existed, or the file lost) every receipt and rejection is checked.
        File.Delete(PrefixFile(folder));
        Assert.Equal(3, Reopen(folder).SignaturesChecked);
        Assert.Equal(0, Reopen(folder).SignaturesChecked);

        using (ReceiptLog log = ReceiptLog.Open(folder.Path))
            log.Append(Sign("c"));
        Assert.Equal(0, Reopen(folder).SignaturesChecked);
    }

    [Fact]
    public void After_a_crash_a_start_checks_the_records_after_the_last_saved_prefix()
    {
        using var folder = new TempFolder();
        using var crashed = new TempFolder();
        using (ReceiptLog log = ReceiptLog.Open(folder.Path))
        {
            log.VerifiedPrefixEvery = 2;
            foreach (string job in new[] { "a", "b", "c" })
                log.Append(Sign(job));

            // The files as a crash would leave them: the prefix was saved after b, not at a close.
            File.Copy(folder[ReceiptLog.FileName], crashed[ReceiptLog.FileName]);
            File.Copy(PrefixFile(folder), crashed[VerifiedPrefix.FileName]);
        }

        RecoveryReport report = Reopen(crashed);
        Assert.Equal(3, report.Receipts);
        Assert.Equal(1, report.SignaturesChecked);
        Assert.Equal(0, Reopen(crashed).SignaturesChecked);
    }

    [Fact]
    public void A_receipt_forged_inside_the_verified_prefix_makes_the_start_check_every_record_and_drop_it()
    {
        using var folder = new TempFolder();
        long[] offsets = Fill(folder, "a", "b", "c");
        string saved = File.ReadAllText(PrefixFile(folder));

        // A valid record (its CRC holds) whose signature no longer matches its content, where b was.
        byte[] forged = ReceiptLogTests.Forged("b");
        using (var file = new FileStream(folder[ReceiptLog.FileName], FileMode.Open, FileAccess.Write))
        {
            file.Position = offsets[1];
            file.Write(Frame(LogRecordKind.Receipt, forged));
            file.Write(Frame(LogRecordKind.Receipt, Sign("c").ToJson()));
        }

        using (ReceiptLog log = ReceiptLog.Open(folder.Path))
        {
            Assert.Equal(["a", "c"], log.All.Select(r => r.JobId));
            Assert.Equal(1, log.Recovery.UnreadableRecords);
            Assert.Equal(3, log.Recovery.SignaturesChecked);
            Assert.NotEqual(saved, File.ReadAllText(PrefixFile(folder)));
        }

        // The prefix saved after the rewrite names the rewritten file.
        RecoveryReport clean = Reopen(folder);
        Assert.True(clean.MiddleIntact);
        Assert.Equal(0, clean.SignaturesChecked);
    }

    [Fact]
    public void A_record_appended_by_someone_else_after_the_prefix_is_checked()
    {
        using var folder = new TempFolder();
        long[] offsets = Fill(folder, "a", "b");
        var stranger = new ReceiptSigner(NodeKeyFor(7), ReceiptSamples.ChainId);
        // Signed by another key, then made to name this node: its signature does not recover to the node it names.
        string signed = Encoding.UTF8.GetString(stranger.Sign(ReceiptSamples.Receipt("x")).ToJson());
        Assert.Contains(stranger.Node.ToString(), signed, StringComparison.Ordinal);
        byte[] json = Encoding.UTF8.GetBytes(signed.Replace(stranger.Node.ToString(), Signer.Node.ToString(), StringComparison.Ordinal));
        using (var file = new FileStream(folder[ReceiptLog.FileName], FileMode.Open, FileAccess.Write))
        {
            file.Position = offsets[^1];
            file.Write(Frame(LogRecordKind.Receipt, json));
        }

        RecoveryReport report = Reopen(folder);
        Assert.Equal(2, report.Receipts);
        Assert.Equal(1, report.SignaturesChecked);
        Assert.Equal(1, report.UnreadableRecords);
    }

    public static TheoryData<string> UnusablePrefixes => new()
    {
        "",
        "garbage",
        "v1 1 00000000000000000000000000000000\n",
        "v1 99999999 00000000000000000000000000000000\n",
        "v2 100 00000000000000000000000000000000\n",
    };

    [Theory]
    [MemberData(nameof(UnusablePrefixes))]
    public void A_saved_prefix_that_does_not_name_the_log_is_ignored_and_replaced(string content)
    {
        using var folder = new TempFolder();
        Fill(folder, "a", "b");
        File.WriteAllText(PrefixFile(folder), content);

        Assert.Equal(2, Reopen(folder).SignaturesChecked);
        Assert.Equal(0, Reopen(folder).SignaturesChecked);
    }

    [Fact]
    public void A_saved_prefix_of_the_right_length_but_another_chain_is_ignored()
    {
        using var folder = new TempFolder();
        Fill(folder, "a", "b");
        Assert.True(VerifiedPrefix.TryParse(File.ReadAllText(PrefixFile(folder)), out VerifiedPrefix saved));
        File.WriteAllText(PrefixFile(folder), (saved with { Chain = saved.Chain ^ 1 }).Format());

        Assert.Equal(2, Reopen(folder).SignaturesChecked);
    }

    [Theory]
    [InlineData("v1 100 0123456789abcdef0123456789abcdef")]
    [InlineData("v1 100 0123456789abcdef0123456789abcdef\n\n")]
    [InlineData("v1  100 0123456789abcdef0123456789abcdef\n")]
    [InlineData("v1 +100 0123456789abcdef0123456789abcdef\n")]
    [InlineData("v1 -100 0123456789abcdef0123456789abcdef\n")]
    [InlineData("v1 0 0123456789abcdef0123456789abcdef\n")]
    [InlineData("v1 99999999999999999999 0123456789abcdef0123456789abcdef\n")]
    [InlineData("v1 100 0123456789abcdef0123456789abcde\n")]
    [InlineData("v1 100 0123456789abcdef0123456789abcdef0\n")]
    [InlineData("v1 100 0x23456789abcdef0123456789abcdef\n")]
    [InlineData("v1 100 0123456789abcdef0123456789abcdeg\n")]
    [InlineData("v1 100 0123456789abcdef0123456789abcdef\r\n")]
    [InlineData("v1 100 0123456789abcdef 0123456789abcdef\n")]
    [InlineData("\0v1 100 0123456789abcdef0123456789abcdef\n")]
    public void Malformed_prefix_lines_do_not_parse(string text) =>
        Assert.False(VerifiedPrefix.TryParse(text, out _));

    [Fact]
    public void The_line_round_trips_and_the_chain_depends_on_every_record_and_their_order()
    {
        VerifiedPrefix ab = default(VerifiedPrefix).Extend("a"u8).Extend("bb"u8);
        Assert.Equal(3, ab.Length);
        Assert.True(VerifiedPrefix.TryParse(ab.Format(), out VerifiedPrefix read));
        Assert.Equal(ab, read);

        Assert.NotEqual(ab, default(VerifiedPrefix).Extend("bb"u8).Extend("a"u8));
        Assert.NotEqual(ab, default(VerifiedPrefix).Extend("ab"u8).Extend("b"u8));
        Assert.NotEqual(ab, default(VerifiedPrefix).Extend("a"u8).Extend("bc"u8));
    }

    private static NodeKey NodeKeyFor(byte seed)
    {
        var secret = new byte[32];
        secret[31] = seed;
        Assert.True(NodeKey.TryCreate(secret, out NodeKey? key));
        return key!;
    }
}
