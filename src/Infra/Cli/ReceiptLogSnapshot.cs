using InfraMind.Node.Receipts;
using Microsoft.Win32.SafeHandles;

namespace InfraMind.Node.Cli;

/// <summary>
/// The receipt log read without taking it: for `infra receipts ls` and `batch`, which must not repair or move
/// the file (that is `infra run`'s job when it opens the log) and must work while the agent holds its lock.
/// Reading stops at the first record that is not whole and good: a torn tail may be a write in progress.
/// </summary>
internal sealed record ReceiptLogSnapshot(
    string Directory, IReadOnlyList<SignedReceipt> Receipts, int Rejections, IReadOnlySet<string> Acked, long UnreadBytes, int BadReceipts)
{
    /// <summary>
    /// Reads <c>{directory}/receipts.log</c> front to back through a window (<see cref="LogWindow"/>), so a log of any
    /// size reads; a missing log is an empty snapshot.
    /// </summary>
    public static ReceiptLogSnapshot Read(string directory)
    {
        string path = Path.Combine(directory, ReceiptLog.FileName);
        try
        {
            // FileShare.ReadWrite: the agent keeps the file open for appends while we read.
            using SafeFileHandle file = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            return Parse(directory, new LogWindow(file, LogWindow.EndOfContent(file), ReceiptLog.RecoveryWindow));
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return new ReceiptLogSnapshot(directory, [], 0, new HashSet<string>(), 0, 0);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            ThrowHelper.ThrowRuntime($"cannot read the receipt log {path}: {e.Message}; run as the node's user (root for a system node)", e);
            throw;
        }
    }

    /// <summary>The records of a log file, as far as they are whole and good.</summary>
    private static ReceiptLogSnapshot Parse(string directory, LogWindow log)
    {
        var receipts = new List<SignedReceipt>();
        var acked = new HashSet<string>(StringComparer.Ordinal);
        int rejections = 0, bad = 0;
        long offset = 0;
        while (offset < log.ContentEnd)
        {
            if (LogRecord.TryRead(log.At(offset), out LogRecordKind kind, out ReadOnlySpan<byte> payload, out int size) != LogRecordStatus.Ok)
                break;
            offset += size;
            switch (kind)
            {
                case LogRecordKind.Receipt:
                    if (SignedReceipt.TryParse(payload, out SignedReceipt? receipt, out _))
                        receipts.Add(receipt!);
                    else
                        bad++;
                    break;
                case LogRecordKind.Rejection:
                    rejections++;
                    break;
                case LogRecordKind.Ack:
                    if (ReceiptLog.TryReadAck(payload, out string jobId))
                        acked.Add(jobId);
                    break;
            }
        }

        // The zeros after the last record are the log's reserve (ReceiptLog.ReserveBytes), not unread records.
        return new ReceiptLogSnapshot(directory, receipts, rejections, acked, log.ContentEnd - offset, bad);
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
