using System.Text;
using InfraMind.Node.Receipts;
using InfraMind.Node.Tests.Support;

namespace InfraMind.Node.Tests.Receipts;

public class ReceiptLogTests
{
    internal static readonly ReceiptSigner Signer = ReceiptSamples.Signer();

    internal static SignedReceipt Sign(string jobId) => Signer.Sign(ReceiptSamples.Receipt(jobId));

    private static string LogFile(TempFolder folder) => Path.Combine(folder.Path, ReceiptLog.FileName);

    /// <summary>The log file's records: its bytes without the zero-filled reserve after them.</summary>
    private static byte[] Records(TempFolder folder)
    {
        byte[] file = File.ReadAllBytes(LogFile(folder));
        return file[..LogRecord.EndOfContent(file)];
    }

    /// <summary>Writes <paramref name="bytes"/> at <paramref name="offset"/> of the log file, over its reserve.</summary>
    private static void WriteAt(TempFolder folder, long offset, params byte[][] bytes)
    {
        using var file = new FileStream(LogFile(folder), FileMode.Open, FileAccess.Write);
        file.Position = offset;
        foreach (byte[] part in bytes)
            file.Write(part);
    }

    /// <summary>Writes jobs in order and returns the file offset where each record starts, plus the end.</summary>
    internal static long[] Fill(TempFolder folder, params string[] jobs)
    {
        var offsets = new List<long>();
        using ReceiptLog log = ReceiptLog.Open(folder.Path);
        foreach (string job in jobs)
        {
            offsets.Add(log.Length);
            log.Append(Sign(job));
        }

        offsets.Add(log.Length);
        return offsets.ToArray();
    }

    /// <summary>A receipt whose latency was changed after signing, in both places it is written: well formed, but its signature recovers to another address.</summary>
    internal static byte[] Forged(string jobId)
    {
        string json = Encoding.UTF8.GetString(Sign(jobId).ToJson());
        string forged = json.Replace("\"latency_ms\":1234", "\"latency_ms\":1", StringComparison.Ordinal).Replace("\"latencyMs\":\"1234\"", "\"latencyMs\":\"1\"", StringComparison.Ordinal);
        Assert.Equal(json.Length - 6, forged.Length);
        return Encoding.UTF8.GetBytes(forged);
    }

    internal static byte[] Frame(LogRecordKind kind, byte[] payload)
    {
        var record = new byte[LogRecord.SizeOf(payload.Length)];
        LogRecord.Write(kind, payload, record);
        return record;
    }

    private static string[] Jobs(ReceiptLog log) => log.All.Select(r => r.JobId).ToArray();

    [Fact]
    public void Crc32c_matches_the_standard_check_value()
    {
        Assert.Equal(0xE3069283u, Crc32C.Compute("123456789"u8));
        Assert.Equal(0u, Crc32C.Compute([]));
    }

    [Fact]
    public void Record_framing_refuses_every_prefix_and_every_flipped_byte()
    {
        byte[] payload = Sign("frame").ToJson();
        var record = new byte[LogRecord.SizeOf(payload.Length)];
        LogRecord.Write(LogRecordKind.Receipt, payload, record);
        Assert.Equal(LogRecordStatus.Ok, LogRecord.TryRead(record, out LogRecordKind kind, out ReadOnlySpan<byte> read, out int size));
        Assert.Equal(LogRecordKind.Receipt, kind);
        Assert.Equal(record.Length, size);
        Assert.True(read.SequenceEqual(payload));

        for (int length = 0; length < record.Length; length++)
            Assert.NotEqual(LogRecordStatus.Ok, LogRecord.TryRead(record.AsSpan(0, length), out _, out _, out _));
        for (int at = 0; at < record.Length; at += 7)
        {
            byte[] flipped = (byte[])record.Clone();
            flipped[at] ^= 0x04;
            Assert.NotEqual(LogRecordStatus.Ok, LogRecord.TryRead(flipped, out _, out _, out _));
        }

        byte[] zeros = new byte[64];
        Assert.Equal(LogRecordStatus.Corrupt, LogRecord.TryRead(zeros, out _, out _, out _));
        Assert.Throws<ArgumentException>(() => LogRecord.Write(LogRecordKind.Ack, new byte[LogRecord.MaxPayload + 1], new byte[LogRecord.MaxPayload + 20]));
    }

    [Fact]
    public void Receipts_survive_reopening_and_a_job_is_logged_once()
    {
        using var folder = new TempFolder();
        using (ReceiptLog log = ReceiptLog.Open(folder.Path))
        {
            log.Append(Sign("a"));
            log.Append(Sign("b"));
            Assert.False(log.TryAppend(Sign("a")));
            ReceiptLogException e = Assert.Throws<ReceiptLogException>(() => log.Append(Sign("b")));
            Assert.Equal(ReceiptLogFailure.DuplicateJob, e.Failure);
            Assert.True(log.TryAppend(Signer.Sign(ReceiptSamples.Rejection("r"))));
            Assert.False(log.TryAppend(Signer.Sign(ReceiptSamples.Rejection("r"))));
        }

        using (ReceiptLog log = ReceiptLog.Open(folder.Path))
        {
            Assert.Equal(["a", "b"], Jobs(log));
            Assert.Equal(1, log.RejectionCount);
            Assert.False(log.TryAppend(Signer.Sign(ReceiptSamples.Rejection("r"))));
            Assert.True(log.TryGet("b", out SignedReceipt? b));
            Assert.Equal(Sign("b").Digest, b!.Digest);
            Assert.False(log.TryAppend(Sign("a")));
            Assert.True(log.Recovery.MiddleIntact);
            Assert.Equal(0, log.Recovery.TailBytesDropped);
        }

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(LogFile(folder)));
    }

    [Fact]
    public void Acks_are_durable_and_unacked_receipts_are_listed_for_redelivery()
    {
        using var folder = new TempFolder();
        using (ReceiptLog log = ReceiptLog.Open(folder.Path))
        {
            foreach (string job in new[] { "a", "b", "c" })
                log.Append(Sign(job));
            Assert.True(log.MarkAcked("b"));
            long length = log.Length;
            Assert.True(log.MarkAcked("b"));
            Assert.Equal(length, log.Length);
            Assert.False(log.MarkAcked("unknown"));
            Assert.Equal(["a", "c"], log.Unacked().Select(r => r.JobId));
            Assert.Equal(2, log.UnackedCount);
        }

        using (ReceiptLog log = ReceiptLog.Open(folder.Path))
        {
            Assert.Equal(["a", "c"], log.Unacked().Select(r => r.JobId));
            Assert.Equal(2, log.UnackedCount);
            Assert.True(log.IsAcked("b"));
            Assert.Equal(1, log.Recovery.Acks);
        }
    }

    [Fact]
    public void Receipts_are_read_back_from_the_file_as_signed_and_a_changed_file_is_an_error()
    {
        using var folder = new TempFolder();
        SignedReceipt signed = Sign("a");
        using ReceiptLog log = ReceiptLog.Open(folder.Path);
        log.Append(signed);
        log.Append(Sign("b"));

        Assert.True(log.TryGet("a", out SignedReceipt? read));
        Assert.Equal(signed.ToJson(), read!.ToJson());
        Assert.Equal(signed.Digest, read.Digest);
        Assert.False(log.TryGet("unknown", out _));
        Assert.Equal(2, log.ReceiptCount);

        // Someone edits the durable file under the running node: the read says so instead of answering garbage.
        using (var edit = new FileStream(LogFile(folder), FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite))
        {
            edit.Position = LogRecord.HeaderSize + 20;
            int b = edit.ReadByte();
            edit.Position--;
            edit.WriteByte((byte)(b ^ 0x20));
        }

        ReceiptLogException e = Assert.Throws<ReceiptLogException>(() => log.TryGet("a", out _));
        Assert.Contains("no longer reads back", e.Message, StringComparison.Ordinal);
        Assert.True(log.TryGet("b", out _));
    }

    [Fact]
    public void Latest_reads_the_last_receipts_in_log_order()
    {
        using var folder = new TempFolder();
        Fill(folder, "a", "b", "c");
        using ReceiptLog log = ReceiptLog.Open(folder.Path);
        log.TryAppend(Signer.Sign(ReceiptSamples.Rejection("r")));
        Assert.Equal(["b", "c"], log.Latest(2).Select(r => r.JobId));
        Assert.Equal(["a", "b", "c"], log.Latest(10).Select(r => r.JobId));
        Assert.Empty(log.Latest(0));
    }

    [Fact]
    public void Job_ids_whose_hashes_collide_are_told_apart_by_the_records_they_point_to()
    {
        // Every id hashes alike: each lookup walks all the candidates and confirms the job id from the file.
        static RecordIndex Colliding() => new(_ => 42);
        using var folder = new TempFolder();
        string[] jobs = ["a", "b", "c", "d", "e"];
        using (ReceiptLog log = ReceiptLog.Open(folder.Path, Colliding(), ReceiptLog.RecoveryWindow))
        {
            foreach (string job in jobs)
                log.Append(Sign(job));
            Assert.True(log.TryAppend(Signer.Sign(ReceiptSamples.Rejection("c"))));
            Assert.False(log.TryAppend(Sign("c")));
            Assert.False(log.TryAppend(Signer.Sign(ReceiptSamples.Rejection("c"))));
            Assert.True(log.MarkAcked("d"));
            Assert.False(log.MarkAcked("x"));
            Assert.False(log.HasReceipt("x"));
            Assert.False(log.TryGet("x", out _));
        }

        using (ReceiptLog log = ReceiptLog.Open(folder.Path, Colliding(), ReceiptLog.RecoveryWindow))
        {
            foreach (string job in jobs)
            {
                Assert.True(log.TryGet(job, out SignedReceipt? receipt));
                Assert.Equal(Sign(job).Digest, receipt!.Digest);
                Assert.Equal(job == "d", log.IsAcked(job));
            }

            Assert.Equal(["a", "b", "c", "e"], log.Unacked().Select(r => r.JobId));
            Assert.Equal(1, log.RejectionCount);
            Assert.Equal(1, log.Recovery.Acks);
            Assert.False(log.TryAppend(Sign("e")));
            Assert.True(log.Recovery.MiddleIntact);
        }
    }

    [Fact]
    public void Recovery_reads_a_log_larger_than_its_window_and_repairs_damage_across_window_edges()
    {
        using var folder = new TempFolder();
        string[] jobs = Enumerable.Range(0, 160).Select(i => $"job-{i:D3}").ToArray();
        long[] offsets = Fill(folder, jobs);
        int window = LogRecord.SizeOf(LogRecord.MaxPayload);
        Assert.True(offsets[^1] > 3 * window, $"the log ({offsets[^1]} bytes) must span several windows");

        // Damage two records, one of them straddling the first window's end, and tear the last one.
        int straddling = Array.FindIndex(offsets, o => o > window) - 1;
        byte[] bytes = File.ReadAllBytes(LogFile(folder));
        bytes[(int)offsets[straddling] + 100] ^= 0x40;
        bytes[(int)offsets[120] + 3] ^= 0x01;
        File.WriteAllBytes(LogFile(folder), bytes[..(int)(offsets[^1] - 10)]);

        string[] kept = jobs.Where((_, i) => i != straddling && i != 120 && i != jobs.Length - 1).ToArray();
        using (ReceiptLog log = ReceiptLog.Open(folder.Path, new RecordIndex(), window))
        {
            Assert.Equal(kept, Jobs(log));
            Assert.Equal(kept.Length, log.Recovery.Receipts);
            Assert.False(log.Recovery.MiddleIntact);
            Assert.Equal(offsets[straddling + 1] - offsets[straddling] + offsets[121] - offsets[120], log.Recovery.CorruptBytesSkipped);
            Assert.Equal(offsets[^1] - 10 - offsets[^2], log.Recovery.TailBytesDropped);
            // Offsets moved with the rewrite: every kept receipt reads back, and new ones land after them.
            foreach (string job in kept)
                Assert.True(log.TryGet(job, out SignedReceipt? receipt) && receipt!.JobId == job, job);
            log.Append(Sign("after"));
        }

        using (ReceiptLog log = ReceiptLog.Open(folder.Path, new RecordIndex(), window))
        {
            Assert.Equal([.. kept, "after"], Jobs(log));
            Assert.True(log.Recovery.MiddleIntact);
            Assert.Equal(0, log.Recovery.TailBytesDropped);
        }
    }

    [Fact]
    public void A_second_process_cannot_open_the_same_log()
    {
        using var folder = new TempFolder();
        using ReceiptLog first = ReceiptLog.Open(folder.Path);
        ReceiptLogException e = Assert.Throws<ReceiptLogException>(() => ReceiptLog.Open(folder.Path));
        Assert.Equal(ReceiptLogFailure.Locked, e.Failure);
    }

    [Fact]
    public void A_torn_last_record_at_every_byte_offset_loses_only_that_record()
    {
        using var folder = new TempFolder();
        long[] offsets = Fill(folder, "a", "b", "c");
        byte[] whole = Records(folder);
        Assert.Equal(offsets[3], whole.Length);
        long lastStart = offsets[2];

        for (long cut = lastStart; cut < whole.Length; cut++)
        {
            byte[] torn = whole.AsSpan(0, (int)cut).ToArray();
            File.WriteAllBytes(LogFile(folder), torn);
            using ReceiptLog log = ReceiptLog.Open(folder.Path);
            Assert.Equal(["a", "b"], Jobs(log));
            // A torn record's trailing zeros (its length field's high bytes, say) cannot be told from the reserve.
            Assert.Equal(Math.Max(0, LogRecord.EndOfContent(torn) - lastStart), log.Recovery.TailBytesDropped);
            Assert.True(log.Recovery.MiddleIntact);
            Assert.Null(log.Recovery.DamagedCopy);
            Assert.Equal(lastStart, new FileInfo(LogFile(folder)).Length);
        }

        // After the repair the job can be logged again and everything reads back.
        using (ReceiptLog log = ReceiptLog.Open(folder.Path))
            log.Append(Sign("c"));
        using (ReceiptLog log = ReceiptLog.Open(folder.Path))
            Assert.Equal(["a", "b", "c"], Jobs(log));
    }

    [Fact]
    public void A_flipped_byte_in_the_last_record_drops_it_as_a_torn_tail()
    {
        using var folder = new TempFolder();
        long[] offsets = Fill(folder, "a", "b", "c");
        byte[] bytes = File.ReadAllBytes(LogFile(folder));
        bytes[(int)offsets[2] + 40] ^= 0x01;
        File.WriteAllBytes(LogFile(folder), bytes);

        using ReceiptLog log = ReceiptLog.Open(folder.Path);
        Assert.Equal(["a", "b"], Jobs(log));
        Assert.Equal(offsets[3] - offsets[2], log.Recovery.TailBytesDropped);
        Assert.Contains("torn tail", log.Recovery.Describe(), StringComparison.Ordinal);
    }

    [Fact]
    public void Records_are_written_into_a_zero_filled_reserve_that_reopening_keeps_as_free_space()
    {
        using var folder = new TempFolder();
        long[] offsets = Fill(folder, "a", "b");
        long fileLength = new FileInfo(LogFile(folder)).Length;
        Assert.Equal(offsets[1] + ReceiptLog.ReserveBytes, fileLength); // reserved when the first record was written
        Assert.True(File.ReadAllBytes(LogFile(folder)).AsSpan((int)offsets[2]).IndexOfAnyExcept((byte)0) < 0);

        using (ReceiptLog log = ReceiptLog.Open(folder.Path))
        {
            // Zeros after the last record are the reserve (or a power cut's zeros, past the last durable write): not damage.
            Assert.Equal(["a", "b"], Jobs(log));
            Assert.Equal(0, log.Recovery.TailBytesDropped);
            Assert.True(log.Recovery.MiddleIntact);
            Assert.Equal(offsets[2], log.Length);
            log.Append(Sign("c"));
            Assert.Equal(fileLength, new FileInfo(LogFile(folder)).Length); // written in place, the file did not grow
        }

        using (ReceiptLog log = ReceiptLog.Open(folder.Path))
            Assert.Equal(["a", "b", "c"], Jobs(log));
    }

    [Fact]
    public void A_record_that_outgrows_the_reserve_extends_it_and_a_file_without_one_gets_one()
    {
        using var folder = new TempFolder();
        long[] offsets = Fill(folder, "a");
        long recordSize = offsets[1];
        int perReserve = (int)(ReceiptLog.ReserveBytes / recordSize);
        using (ReceiptLog log = ReceiptLog.Open(folder.Path))
        {
            for (int i = 0; i <= perReserve + 1; i++)
                log.Append(Sign($"job-{i}"));
            Assert.True(new FileInfo(LogFile(folder)).Length >= log.Length + ReceiptLog.ReserveBytes / 2);
        }

        // A log from before the reserve (records up to the end of the file) is read as it is and reserved on the next write.
        File.WriteAllBytes(LogFile(folder), Records(folder));
        using (ReceiptLog log = ReceiptLog.Open(folder.Path))
        {
            Assert.Equal(perReserve + 3, log.All.Count);
            Assert.Equal(0, log.Recovery.TailBytesDropped);
            log.Append(Sign("after"));
            Assert.Equal(log.Length + ReceiptLog.ReserveBytes, new FileInfo(LogFile(folder)).Length);
        }

        using (ReceiptLog log = ReceiptLog.Open(folder.Path))
            Assert.Equal(perReserve + 4, log.All.Count);
    }

    [Theory]
    [InlineData(0)] // the length field: the record seems to run past the end
    [InlineData(5)] // the checksum
    [InlineData(8)] // the kind
    [InlineData(300)] // the payload
    public void Damage_in_the_middle_keeps_the_good_records_and_moves_the_file_aside(int byteInRecord)
    {
        using var folder = new TempFolder();
        long[] offsets = Fill(folder, "a", "b", "c", "d");
        byte[] original = File.ReadAllBytes(LogFile(folder));
        byte[] bytes = (byte[])original.Clone();
        bytes[(int)offsets[1] + byteInRecord] ^= 0x40;
        File.WriteAllBytes(LogFile(folder), bytes);

        using (ReceiptLog log = ReceiptLog.Open(folder.Path))
        {
            Assert.Equal(["a", "c", "d"], Jobs(log));
            // Receipts are read from the file at their offsets, which the rewrite moved.
            Assert.True(log.TryGet("d", out SignedReceipt? d));
            Assert.Equal("d", d!.JobId);
            Assert.Equal(["a", "c", "d"], log.Unacked().Select(r => r.JobId));
            Assert.False(log.Recovery.MiddleIntact);
            Assert.Equal(offsets[2] - offsets[1], log.Recovery.CorruptBytesSkipped);
            Assert.Equal(0, log.Recovery.TailBytesDropped);
            Assert.NotNull(log.Recovery.DamagedCopy);
            Assert.Equal(bytes, File.ReadAllBytes(log.Recovery.DamagedCopy!));
            Assert.Contains("DAMAGE", log.Recovery.Describe(), StringComparison.Ordinal);
            log.Append(Sign("e"));
        }

        // The rewritten log is clean: the next open finds nothing to repair.
        using (ReceiptLog log = ReceiptLog.Open(folder.Path))
        {
            Assert.Equal(["a", "c", "d", "e"], Jobs(log));
            Assert.True(log.Recovery.MiddleIntact);
        }
    }

    [Fact]
    public void A_record_with_a_valid_checksum_but_a_forged_receipt_is_not_trusted()
    {
        using var folder = new TempFolder();
        long[] offsets = Fill(folder, "a");
        WriteAt(folder, offsets[1], Frame(LogRecordKind.Receipt, Forged("b")), Frame(LogRecordKind.Receipt, Sign("c").ToJson()));

        using ReceiptLog log = ReceiptLog.Open(folder.Path);
        Assert.Equal(["a", "c"], Jobs(log));
        Assert.Equal(1, log.Recovery.UnreadableRecords);
        Assert.NotNull(log.Recovery.DamagedCopy);
    }

    [Fact]
    public void Appends_that_overlap_share_one_fsync_and_all_become_durable()
    {
        using var folder = new TempFolder();
        const int Writers = 40;
        using (ReceiptLog log = ReceiptLog.Open(folder.Path))
        {
            // The first group fsync is held until every other writer has written and is waiting: all of them
            // must then be covered by exactly one more fsync, not one each.
            int calls = 0;
            log.BeforeGroupSync = () =>
            {
                if (Interlocked.Increment(ref calls) == 1)
                    Assert.True(SpinWait.SpinUntil(() => log.Waiting == Writers, TimeSpan.FromSeconds(20)), $"only {log.Waiting} writers waiting");
            };
            using var start = new Barrier(Writers);
            Thread[] threads = Enumerable.Range(0, Writers).Select(i => new Thread(() =>
            {
                start.SignalAndWait();
                Assert.True(log.TryAppend(Sign($"job-{i}")));
                Assert.True(log.TryGet($"job-{i}", out _)); // visible as soon as the append returns
            })).ToArray();
            foreach (Thread t in threads)
                t.Start();
            foreach (Thread t in threads)
                t.Join();

            Assert.Equal(Writers, log.All.Count);
            Assert.Equal(2, log.GroupSyncs);
            Assert.Equal(0, log.Waiting);
        }

        using (ReceiptLog log = ReceiptLog.Open(folder.Path))
        {
            Assert.Equal(Enumerable.Range(0, Writers).Select(i => $"job-{i}").Order(), Jobs(log).Order());
            Assert.Equal(0, log.Recovery.TailBytesDropped);
        }
    }

    [Fact]
    public async Task A_record_waiting_for_its_fsync_is_not_visible_and_a_duplicate_is_refused()
    {
        using var folder = new TempFolder();
        using ReceiptLog log = ReceiptLog.Open(folder.Path);
        using var release = new ManualResetEventSlim();
        log.BeforeGroupSync = () => release.Wait(TimeSpan.FromSeconds(20));
        var first = Task.Run(() => log.TryAppend(Sign("a")));
        Assert.True(SpinWait.SpinUntil(() => log.Waiting == 1, TimeSpan.FromSeconds(20)));

        Assert.False(log.TryGet("a", out _));
        Assert.Empty(log.All);
        Assert.False(await log.TryAppendAsync(Sign("a"))); // written once already, fsync or not

        // A second append while the fsync runs is written and waits for the next round on a task, not a thread.
        ValueTask<bool> second = log.TryAppendAsync(Sign("b"));
        Assert.False(second.IsCompleted);
        Assert.Equal(2, log.Waiting);
        release.Set();
        Assert.True(await first.WaitAsync(TimeSpan.FromSeconds(20)));
        Assert.True(await second.AsTask().WaitAsync(TimeSpan.FromSeconds(20)));
        Assert.True(log.TryGet("a", out _));
        Assert.True(log.TryGet("b", out _));
        Assert.Equal(2, log.GroupSyncs);
        Assert.Equal(0, log.Waiting);
    }

    [Fact]
    public void A_failed_fsync_fails_every_record_it_covered_cuts_them_from_the_file_and_the_log_goes_on()
    {
        using var folder = new TempFolder();
        long durableLength;
        using (ReceiptLog log = ReceiptLog.Open(folder.Path))
        {
            log.Append(Sign("kept"));
            durableLength = log.Length;
            log.BeforeGroupSync = () => throw new IOException("Input/output error");
            ReceiptLogException e = Assert.Throws<ReceiptLogException>(() => log.Append(Sign("lost")));
            Assert.Equal(ReceiptLogFailure.Io, e.Failure);
            Assert.Contains("fdatasync of ", e.Message, StringComparison.Ordinal);
            Assert.False(log.TryGet("lost", out _));
            Assert.Equal(durableLength, new FileInfo(LogFile(folder)).Length);

            // The disk recovered: the same job can be logged now, once.
            log.BeforeGroupSync = null;
            Assert.True(log.TryAppend(Sign("lost")));
            Assert.Equal(["kept", "lost"], Jobs(log));
            Assert.True(log.MarkAcked("kept"));
        }

        using (ReceiptLog log = ReceiptLog.Open(folder.Path))
        {
            Assert.Equal(["kept", "lost"], Jobs(log));
            Assert.True(log.IsAcked("kept"));
            Assert.True(log.Recovery.MiddleIntact);
            Assert.Equal(0, log.Recovery.TailBytesDropped);
        }
    }
}
