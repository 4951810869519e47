using InfraMind.Node.Receipts;
using Microsoft.Win32.SafeHandles;

namespace InfraMind.Node.Cli;

/// <summary>
/// The receipt log read without taking it: for `infra receipts ls` and `batch`, which must not repair or move
/// the file (that is `infra run`'s job when it opens the log) and must work while the agent holds its lock.
/// Reading stops at the first record that is not whole and good: a torn tail may be a write in progress.
/// Signatures are checked only after the log's verified prefix, as a start of the agent does (<see cref="VerifiedPrefix"/>),
/// and no receipt is kept unless asked for: `ls` prints each as it is read, `batch` keeps the latest it signs over.
/// A log of 48,663 receipts took 9.8 s and 58 MB to list when every receipt was checked and kept.
/// </summary>
internal sealed record ReceiptLogSnapshot(
    string Directory, IReadOnlyList<SignedReceipt> Latest, int ReceiptCount, int AckedReceipts, int Rejections, long UnreadBytes, int BadReceipts)
{
    /// <summary>
    /// Reads <c>{directory}/receipts.log</c> front to back through a window (<see cref="LogWindow"/>), so a log of any
    /// size reads; a missing log is an empty snapshot. <paramref name="each"/> gets every good receipt in log order with
    /// whether the scheduler acked it; <see cref="Latest"/> keeps the last <paramref name="keepLatest"/> of them.
    /// </summary>
    public static ReceiptLogSnapshot Read(string directory, int keepLatest = 0, Action<SignedReceipt, bool>? each = null)
    {
        string path = Path.Combine(directory, ReceiptLog.FileName);
        try
        {
            // FileShare.ReadWrite: the agent keeps the file open for appends while we read.
            using SafeFileHandle file = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            var log = new LogWindow(file, LogWindow.EndOfContent(file), ReceiptLog.RecoveryWindow);
            long verifiedUpTo = VerifiedPrefix.LoadMatching(directory, log).Length;
            return Parse(directory, log, AckedJobs(log), verifiedUpTo, keepLatest, each);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return new ReceiptLogSnapshot(directory, [], 0, 0, 0, 0, 0);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            ThrowHelper.ThrowRuntime($"cannot read the receipt log {path}: {e.Message}; run as the node's user (root for a system node)", e);
            throw;
        }
    }

    /// <summary>The job ids the scheduler acked, as far as the records are whole and good: a first pass, since acks follow their receipts.</summary>
    private static HashSet<string> AckedJobs(LogWindow log)
    {
        var acked = new HashSet<string>(StringComparer.Ordinal);
        long offset = 0;
        while (offset < log.ContentEnd
            && LogRecord.TryRead(log.At(offset), out LogRecordKind kind, out ReadOnlySpan<byte> payload, out int size) == LogRecordStatus.Ok)
        {
            offset += size;
            if (kind == LogRecordKind.Ack && ReceiptLog.TryReadAck(payload, out string jobId))
                acked.Add(jobId);
        }

        return acked;
    }

    /// <summary>The records of a log file, as far as they are whole and good.</summary>
    private static ReceiptLogSnapshot Parse(
        string directory, LogWindow log, HashSet<string> acked, long verifiedUpTo, int keepLatest, Action<SignedReceipt, bool>? each)
    {
        var latest = new Queue<SignedReceipt>();
        int receipts = 0, ackedReceipts = 0, rejections = 0, bad = 0;
        long offset = 0;
        while (offset < log.ContentEnd)
        {
            long at = offset;
            if (LogRecord.TryRead(log.At(offset), out LogRecordKind kind, out ReadOnlySpan<byte> payload, out int size) != LogRecordStatus.Ok)
                break;
            offset += size;
            if (kind == LogRecordKind.Rejection)
            {
                rejections++;
                continue;
            }

            if (kind != LogRecordKind.Receipt)
                continue;
            SignedReceipt? receipt;
            bool read = at < verifiedUpTo ? SignedReceipt.TryParseOwn(payload, out receipt) : SignedReceipt.TryParse(payload, out receipt, out _);
            if (!read)
            {
                bad++;
                continue;
            }

            receipts++;
            bool isAcked = acked.Contains(receipt!.JobId);
            if (isAcked)
                ackedReceipts++;
            each?.Invoke(receipt, isAcked);
            if (keepLatest > 0)
            {
                if (latest.Count == keepLatest)
                    latest.Dequeue();
                latest.Enqueue(receipt);
            }
        }

        // The zeros after the last record are the log's reserve (ReceiptLog.ReserveBytes), not unread records.
        return new ReceiptLogSnapshot(directory, [.. latest], receipts, ackedReceipts, rejections, log.ContentEnd - offset, bad);
    }

    /// <summary>
    /// True when another process (a running `infra run`) holds the log's folder lock. Probed by trying the
    /// same exclusive lock <see cref="ReceiptLog.Open"/> takes and letting go at once.
    /// </summary>
    public static bool IsHeld(string directory)
    {
        string path = Path.Combine(directory, ReceiptLog.LockName);
        try
        {
            using var probe = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.None);
            return false;
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return false;
        }
        catch (IOException)
        {
            return true;
        }
        catch (UnauthorizedAccessException e)
        {
            ThrowHelper.ThrowRuntime($"cannot open {path}: {e.Message}; run as the node's user (root for a system node)", e);
            throw;
        }
    }
}
