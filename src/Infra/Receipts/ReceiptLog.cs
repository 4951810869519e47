using System.Buffers;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using InfraMind.Node.Interop;
using Microsoft.Win32.SafeHandles;

namespace InfraMind.Node.Receipts;

/// <summary>Why the receipt log refused an operation.</summary>
public enum ReceiptLogFailure
{
    /// <summary>Another process holds the log folder.</summary>
    Locked,

    /// <summary>The job already has a receipt (or rejection) in the log: exactly one per job.</summary>
    DuplicateJob,

    /// <summary>Writing or syncing failed; the record is not durable and must not be delivered.</summary>
    Io,

    /// <summary>An earlier write failed and could not be undone; the log takes no more appends.</summary>
    Broken,
}

public sealed class ReceiptLogException : Exception
{
    public ReceiptLogException(ReceiptLogFailure failure, string message, Exception? inner = null)
        : base(message, inner)
    {
        Failure = failure;
    }

    public ReceiptLogFailure Failure { get; }
}

/// <summary>What opening the log found and repaired.</summary>
public sealed record RecoveryReport(
    int Receipts,
    int Rejections,
    int Acks,
    long TailBytesDropped,
    long CorruptBytesSkipped,
    int UnreadableRecords,
    string? DamagedCopy)
{
    /// <summary>True when nothing but a torn tail (a write cut short by a crash) had to be repaired.</summary>
    public bool MiddleIntact => CorruptBytesSkipped == 0 && UnreadableRecords == 0;

    public string Describe()
    {
        string text = $"receipt log: {Receipts} receipts, {Rejections} rejections, {Acks} acks";
        if (TailBytesDropped > 0)
            text += $"; dropped a torn tail of {TailBytesDropped} bytes (a write cut short by a crash, never acknowledged to a caller)";
        if (!MiddleIntact)
            text += $"; DAMAGE inside the log: skipped {CorruptBytesSkipped} corrupt bytes and {UnreadableRecords} unreadable records, kept every good record, original moved to {DamagedCopy}: check the disk and keep that copy";
        return text;
    }
}

/// <summary>
/// The durable, append-only receipt log under <c>{state_dir}/receipts/</c> (CONTRACT.md §7): every signed
/// receipt and rejection is written and fsynced here before <see cref="Append(SignedReceipt)"/> returns, so
/// a receipt that was delivered can never be lost by a crash. Acks from the scheduler are records in the same
/// file; receipts without one are redelivered after a restart.
/// </summary>
/// <remarks>
/// Opening recovers: a record cut short or garbled at the end (a crash mid-write) is dropped and the file truncated.
/// Damage with good records after it is never dropped silently: the good records are kept, the damaged file is
/// copied aside, and <see cref="Recovery"/> says so. One process owns the folder at a time (an exclusive lock on
/// <c>receipts.lock</c>).
/// <para>
/// The file keeps a zero-filled reserve after its last record (<see cref="ReserveBytes"/>, written ahead whenever a
/// record no longer fits), and records are written into it: an overwrite of blocks already allocated and written is
/// made durable by fdatasync alone, where an append also waits for a filesystem journal commit of the new size and
/// blocks, which a busy host schedules late (bench/README.md, "Why the reserve helps"). Zeros are never a record (a
/// record's length is at least one), so readers stop there; a zero tail is free space, not damage.
/// </para>
/// <para>
/// Appends commit as a group: each caller writes its record under the lock, then it is made durable by an fsync
/// that began after the write. A caller that finds no fsync running runs one itself, with the lock released, for
/// every record written so far; records written meanwhile wait on a task (no thread held) for the next round, which
/// a pool thread runs. A burst of fifty receipts (fifty jobs timing out in the same second) costs two or three
/// fsyncs and blocks one thread, where it used to cost fifty fsyncs in a row, each holding a pool thread.
/// A record becomes visible here (<see cref="All"/>, <see cref="TryGet"/>, <see cref="IsAcked"/>) only once durable.
/// </para>
/// </remarks>
public sealed class ReceiptLog : IDisposable
{
    public const string FileName = "receipts.log";
    public const string LockName = "receipts.lock";

    /// <summary>How far ahead of the last record the file is zero-filled, once a record no longer fits.</summary>
    public const int ReserveBytes = 1 << 20;

    private static readonly byte[] Zeros = new byte[64 * 1024];

    private readonly Lock _gate = new();
    private readonly string _path;
    private readonly FileStream _lock;
    private readonly FileStream _stream;
    private readonly SafeFileHandle _file;
    // Receipts are read from the file when asked for: memory holds where each one starts (job id → offset; log order
    // is offset order) and which are unacked, not the receipts (about 570 B a job before; bench/README.md, "Soak").
    private readonly Dictionary<string, long> _receiptAt = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long> _unacked = new(StringComparer.Ordinal);
    private readonly List<SignedRejection> _rejections = [];
    private readonly HashSet<string> _rejected = new(StringComparer.Ordinal);
    private readonly List<PendingRecord> _pending = [];
    // What _pending holds, by kind and job: a second record of either is refused while the first waits for its fsync.
    private readonly HashSet<(LogRecordKind Kind, string JobId)> _pendingKeys = [];
    // _length: the end of the last record; _reserved: the end of the zeros written after it (the file's length).
    private long _length;
    private long _reserved;
    private bool _syncing;
    private int _groupSyncs;
    private bool _broken;

    private ReceiptLog(string directory, FileStream lockFile, Action<SignedReceipt>? recovered)
    {
        Directory = directory;
        _path = Path.Combine(directory, FileName);
        _lock = lockFile;
        Recovery = Recover(recovered, out long end);
        _stream = OpenOwnerOnly(_path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.Read);
        _file = _stream.SafeFileHandle;
        _length = end;
        _reserved = Math.Max(end, RandomAccess.GetLength(_file));
        SyncDirectory();
    }

    public string Directory { get; }

    public RecoveryReport Recovery { get; }

    /// <summary>Every logged receipt, in the order appended (read from the file).</summary>
    public IReadOnlyList<SignedReceipt> All
    {
        get
        {
            long[] offsets;
            lock (_gate)
                offsets = [.. _receiptAt.Values.Order()];
            return ReadReceipts(offsets);
        }
    }

    /// <summary>How many receipts the log holds.</summary>
    public int ReceiptCount
    {
        get
        {
            lock (_gate)
                return _receiptAt.Count;
        }
    }

    public IReadOnlyList<SignedRejection> Rejections
    {
        get
        {
            lock (_gate)
                return _rejections.ToArray();
        }
    }

    /// <summary>Bytes of records in the log file (the file is longer by its zero-filled reserve).</summary>
    public long Length
    {
        get
        {
            lock (_gate)
                return _length;
        }
    }

    /// <summary>Group fsyncs run so far: fewer than appends when appends overlap.</summary>
    internal int GroupSyncs
    {
        get
        {
            lock (_gate)
                return _groupSyncs;
        }
    }

    /// <summary>Records written and waiting for their group fsync.</summary>
    internal int Waiting
    {
        get
        {
            lock (_gate)
                return _pending.Count;
        }
    }

    /// <summary>
    /// Test seam: runs just before each group fsync, outside the lock. An <see cref="IOException"/> thrown here stands
    /// for a failed fsync, which a real disk cannot be made to produce on demand.
    /// </summary>
    internal Action? BeforeGroupSync { get; set; }

    /// <summary>Opens (creating if needed) the log in <paramref name="directory"/>, recovering it first.</summary>
    /// <param name="recovered">Called with each receipt recovery keeps, as it reads them: a caller that wants them all at
    /// start (the replay guard's seed) gets them without the log being read a second time.</param>
    public static ReceiptLog Open(string directory, Action<SignedReceipt>? recovered = null)
    {
        System.IO.Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        FileStream lockFile;
        try
        {
            lockFile = new FileStream(Path.Combine(directory, LockName), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException e)
        {
            throw new ReceiptLogException(ReceiptLogFailure.Locked,
                $"the receipt log in {directory} is held by another process; stop the other `infra run` or point node.state_dir elsewhere", e);
        }

        try
        {
            return new ReceiptLog(directory, lockFile, recovered);
        }
        catch
        {
            lockFile.Dispose();
            throw;
        }
    }

    /// <summary>Appends and fsyncs; throws <see cref="ReceiptLogFailure.DuplicateJob"/> when the job already has a receipt.</summary>
    public void Append(SignedReceipt receipt)
    {
        if (!TryAppend(receipt))
        {
            throw new ReceiptLogException(ReceiptLogFailure.DuplicateJob,
                $"job '{receipt.JobId}' already has a receipt in the log; deliver the logged one (TryGet) instead of signing another");
        }
    }

    /// <summary>Appends and fsyncs; false (and nothing written) when the job already has a receipt.</summary>
    public bool TryAppend(SignedReceipt receipt) => Wait(TryAppendAsync(receipt));

    /// <summary>
    /// Appends; completes once the record is durable (false, and nothing written, when the job already has a receipt).
    /// A caller whose record rides on another's fsync waits without holding a thread. <paramref name="json"/> is the
    /// receipt's <see cref="SignedReceipt.ToJson"/> when the caller already wrote it.
    /// </summary>
    public ValueTask<bool> TryAppendAsync(SignedReceipt receipt, byte[]? json = null) =>
        AppendAsync(new PendingRecord(LogRecordKind.Receipt, receipt.JobId, null), json ?? receipt.ToJson());

    /// <summary>Appends a rejection and fsyncs; false when the job was already rejected.</summary>
    public bool TryAppend(SignedRejection rejection, byte[]? json = null) =>
        Wait(AppendAsync(new PendingRecord(LogRecordKind.Rejection, rejection.JobId, rejection), json ?? rejection.ToJson()));

    /// <summary>The logged receipt of <paramref name="jobId"/>, read from the file.</summary>
    public bool TryGet(string jobId, out SignedReceipt? receipt)
    {
        long offset;
        lock (_gate)
        {
            if (!_receiptAt.TryGetValue(jobId, out offset))
            {
                receipt = null;
                return false;
            }
        }

        receipt = ReadReceiptAt(offset);
        return true;
    }

    public bool IsAcked(string jobId)
    {
        lock (_gate)
            return IsAckedLocked(jobId);
    }

    /// <summary>How many receipts the scheduler has not acked, without reading them (asked after every ack).</summary>
    public int UnackedCount
    {
        get
        {
            lock (_gate)
                return _unacked.Count;
        }
    }

    /// <summary>Receipts the scheduler has not acked, in log order: what to send again after a reconnect.</summary>
    public IReadOnlyList<SignedReceipt> Unacked()
    {
        long[] offsets;
        lock (_gate)
            offsets = [.. _unacked.Values.Order()];
        return ReadReceipts(offsets);
    }

    /// <summary>
    /// Records the scheduler's receipt_ack. False for a job with no receipt here (nothing is written);
    /// true, without writing again, when it was already acked.
    /// </summary>
    public bool MarkAcked(string jobId)
    {
        lock (_gate)
        {
            if (!_receiptAt.ContainsKey(jobId))
                return false;
        }

        // False from the append means acked already (or waiting for its fsync): nothing more to write.
        Wait(AppendAsync(new PendingRecord(LogRecordKind.Ack, jobId, null), AckPayload(jobId)));
        return true;
    }

    public void Dispose()
    {
        _stream.Dispose();
        _lock.Dispose();
    }

    private static bool Wait(ValueTask<bool> commit) => commit.IsCompletedSuccessfully ? commit.Result : commit.AsTask().GetAwaiter().GetResult();

    /// <summary>Writes the record unless its job already has one of its kind, then makes it durable (<see cref="CommitAsync"/>).</summary>
    private ValueTask<bool> AppendAsync(PendingRecord pending, byte[] payload)
    {
        lock (_gate)
        {
            bool logged = pending.Kind switch
            {
                LogRecordKind.Receipt => _receiptAt.ContainsKey(pending.JobId),
                LogRecordKind.Rejection => _rejected.Contains(pending.JobId),
                _ => IsAckedLocked(pending.JobId),
            };
            if (logged || !_pendingKeys.Add((pending.Kind, pending.JobId)))
                return ValueTask.FromResult(false);
            Write(pending, payload);
        }

        return CommitAsync(pending);
    }

    /// <summary>
    /// Writes the record at the end of the file; called holding <see cref="_gate"/>. The record then waits in
    /// <see cref="_pending"/> for the group fsync that makes it durable (<see cref="CommitAsync"/>).
    /// </summary>
    /// <exception cref="ReceiptLogException">Nothing was written (the log is broken, the record too big, or the write failed).</exception>
    private void Write(PendingRecord pending, byte[] payload)
    {
        pending.Start = _length;
        try
        {
            if (_broken)
            {
                throw new ReceiptLogException(ReceiptLogFailure.Broken,
                    $"an earlier write to {_path} failed and could not be undone; restart the node so the log is recovered");
            }

            if (payload.Length > LogRecord.MaxPayload)
            {
                throw new ReceiptLogException(ReceiptLogFailure.Io,
                    $"a {pending.Kind} record of {payload.Length} bytes is over the {LogRecord.MaxPayload}-byte limit; shorten its strings");
            }

            WriteRecord(pending.Kind, payload);
        }
        catch
        {
            Forget(pending);
            throw;
        }

        pending.End = _length;
        _pending.Add(pending);
    }

    private void WriteRecord(LogRecordKind kind, byte[] payload)
    {
        byte[] record = ArrayPool<byte>.Shared.Rent(LogRecord.SizeOf(payload.Length));
        try
        {
            int size = LogRecord.Write(kind, payload, record);
            Reserve(size);
            RandomAccess.Write(_file, record.AsSpan(0, size), _length);
            _length += size;
        }
        catch (IOException e)
        {
            // A half-written record must not stay: the next append would land after it and turn a torn
            // tail into damage in the middle. Cut back to the last good record.
            CutBackTo(_length);
            throw new ReceiptLogException(ReceiptLogFailure.Io,
                $"writing to {_path} failed ({e.Message}); the {kind} is not durable, do not deliver it; check free space on the state_dir disk", e);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(record);
        }
    }

    /// <summary>
    /// Zero-fills the file ahead when a record of <paramref name="size"/> bytes would run past the reserve; the next
    /// group sync makes the zeros and the new length durable with the record. A disk too full for the reserve
    /// still takes the record, appended as without one.
    /// </summary>
    private void Reserve(int size)
    {
        if (_length + size <= _reserved)
            return;
        long from = Math.Max(_reserved, _length);
        long to = _length + size + ReserveBytes;
        try
        {
            for (long at = from; at < to; at += Zeros.Length)
                RandomAccess.Write(_file, Zeros.AsSpan(0, (int)Math.Min(Zeros.Length, to - at)), at);
            _reserved = to;
        }
        catch (IOException)
        {
            // Whatever zeros did land are reserve too: zeros are never read as a record.
            _reserved = from;
        }
    }

    /// <summary>
    /// Makes a written record durable. With no fsync running, this caller runs one now, for its record and every
    /// other written so far, and returns when it is done: a lone append pays one fsync and no thread switch. With one
    /// running, the record waits for the next, which runs on a pool thread as soon as the current one ends; the
    /// caller waits on a task, holding no thread.
    /// </summary>
    private ValueTask<bool> CommitAsync(PendingRecord pending)
    {
        lock (_gate)
        {
            if (_syncing)
                return new ValueTask<bool>(pending.Completion.Task);
            _syncing = true;
        }

        if (SyncGroup())
            ThreadPool.UnsafeQueueUserWorkItem(static log => log.SyncUntilNoneWaiting(), this, preferLocal: false);
        return pending.Outcome == PendingOutcome.Durable
            ? ValueTask.FromResult(true)
            : ValueTask.FromException<bool>(pending.Failure!);
    }

    private void SyncUntilNoneWaiting()
    {
        while (SyncGroup())
        {
        }
    }

    /// <summary>
    /// One fsync for every record written so far, then their outcomes. Runs with <see cref="_syncing"/> set, outside
    /// the lock; true when records written meanwhile wait for another round (<see cref="_syncing"/> stays set).
    /// </summary>
    private bool SyncGroup()
    {
        long covered;
        lock (_gate)
        {
            covered = _length;
            _groupSyncs++;
        }

        IOException? failure = null;
        try
        {
            BeforeGroupSync?.Invoke();
            DataSync();
        }
        catch (IOException e)
        {
            failure = e;
        }

        List<PendingRecord> settled = [];
        bool more;
        lock (_gate)
        {
            if (failure is null)
            {
                // Records written after the fsync began wait for the next one.
                while (settled.Count < _pending.Count && _pending[settled.Count].End <= covered)
                    settled.Add(_pending[settled.Count]);
                _pending.RemoveRange(0, settled.Count);
                foreach (PendingRecord pending in settled)
                    Publish(pending);
            }
            else
            {
                // What the kernel could not sync cannot be trusted to be in the file: cut back to the end of the last
                // durable record and fail every record after it, the ones written during the fsync included.
                long durable = _pending.Count > 0 ? _pending[0].Start : _length;
                CutBackTo(durable);
                _length = durable;
                var error = new ReceiptLogException(ReceiptLogFailure.Io,
                    $"fdatasync of {_path} failed ({failure.Message}); the records it covered are not durable, do not deliver them; check the state_dir disk", failure);
                foreach (PendingRecord pending in _pending)
                {
                    pending.Failure = error;
                    pending.Outcome = PendingOutcome.Failed;
                    Forget(pending);
                }

                settled.AddRange(_pending);
                _pending.Clear();
            }

            more = _pending.Count > 0;
            _syncing = more;
        }

        // Outside the lock; continuations go to the pool (RunContinuationsAsynchronously), not onto this thread.
        foreach (PendingRecord pending in settled)
        {
            if (pending.Outcome == PendingOutcome.Durable)
                pending.Completion.TrySetResult(true);
            else
                pending.Completion.TrySetException(pending.Failure!);
        }

        return more;
    }

    /// <summary>fdatasync: records written into the reserve change no metadata that reading them back needs.</summary>
    private void DataSync()
    {
        if (Libc.Fdatasync(_file) != 0)
            throw new IOException(Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError()));
    }

    private void CutBackTo(long length)
    {
        try
        {
            RandomAccess.SetLength(_file, length);
            _reserved = length;
            RandomAccess.FlushToDisk(_file);
        }
        catch (IOException)
        {
            _broken = true;
        }
    }

    /// <summary>A durable record becomes part of the log's state.</summary>
    private void Publish(PendingRecord pending)
    {
        Forget(pending);
        switch (pending.Kind)
        {
            case LogRecordKind.Receipt:
                AddReceipt(pending.JobId, pending.Start);
                break;
            case LogRecordKind.Rejection:
                _rejections.Add(pending.Rejection!);
                _rejected.Add(pending.JobId);
                break;
            default:
                _unacked.Remove(pending.JobId);
                break;
        }

        pending.Outcome = PendingOutcome.Durable;
    }

    private void Forget(PendingRecord pending) => _pendingKeys.Remove((pending.Kind, pending.JobId));

    private void AddReceipt(string jobId, long offset)
    {
        _receiptAt.Add(jobId, offset);
        _unacked.Add(jobId, offset);
    }

    private bool IsAckedLocked(string jobId) => _receiptAt.ContainsKey(jobId) && !_unacked.ContainsKey(jobId);

    private SignedReceipt[] ReadReceipts(long[] offsets)
    {
        var receipts = new SignedReceipt[offsets.Length];
        for (int i = 0; i < offsets.Length; i++)
            receipts[i] = ReadReceiptAt(offsets[i]);
        return receipts;
    }

    /// <summary>The durable receipt record that starts at <paramref name="offset"/>: the node wrote and checked it, so anything else is the disk's fault.</summary>
    private SignedReceipt ReadReceiptAt(long offset)
    {
        Span<byte> header = stackalloc byte[LogRecord.HeaderSize];
        int got = RandomAccess.Read(_file, header, offset);
        int length = got == header.Length ? (int)System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(header) : 0;
        if (length is > 0 and <= LogRecord.MaxPayload)
        {
            byte[] record = ArrayPool<byte>.Shared.Rent(LogRecord.SizeOf(length));
            try
            {
                int size = LogRecord.SizeOf(length);
                if (RandomAccess.Read(_file, record.AsSpan(0, size), offset) == size
                    && LogRecord.TryRead(record.AsSpan(0, size), out LogRecordKind kind, out ReadOnlySpan<byte> payload, out _) == LogRecordStatus.Ok
                    && kind == LogRecordKind.Receipt
                    && SignedReceipt.TryParse(payload, out SignedReceipt? receipt, out _))
                {
                    return receipt!;
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(record);
            }
        }

        throw new ReceiptLogException(ReceiptLogFailure.Io,
            $"the receipt at offset {offset} of {_path} no longer reads back as one; the file changed under the node: check the state_dir disk and restart the node so the log is recovered");
    }

    private static byte[] AckPayload(string jobId)
    {
        var buffer = new ArrayBufferWriter<byte>(64);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("job_id"u8, jobId);
            json.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>The job id of an ack record's payload ({"job_id":"…"} and nothing else); the CLI's snapshot reads acks with it too.</summary>
    internal static bool TryReadAck(ReadOnlySpan<byte> payload, out string jobId)
    {
        jobId = "";
        var reader = new Utf8JsonReader(payload);
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject
                || !reader.Read() || reader.TokenType != JsonTokenType.PropertyName || !reader.ValueTextEquals("job_id"u8)
                || !reader.Read() || reader.TokenType != JsonTokenType.String)
                return false;
            jobId = reader.GetString()!;
            return reader.Read() && reader.TokenType == JsonTokenType.EndObject && !reader.Read();
        }
        catch (JsonException)
        {
            return false;
        }
    }

    /// <summary>Reads the file, rebuilds the in-memory state and repairs what a crash or bad disk left.</summary>
    private RecoveryReport Recover(Action<SignedReceipt>? recovered, out long end)
    {
        byte[] data = File.Exists(_path) ? File.ReadAllBytes(_path) : [];
        // The zero-filled reserve after the last record is free space: only bytes up to the last non-zero one are read.
        int contentEnd = LogRecord.EndOfContent(data);
        var good = new List<(LogRecordKind Kind, int Offset, int Size)>();
        long tailDropped = 0, skipped = 0;
        int unreadable = 0, acks = 0;
        int offset = 0;
        while (offset < contentEnd)
        {
            LogRecordStatus status = LogRecord.TryRead(data.AsSpan(offset, contentEnd - offset), out LogRecordKind kind, out ReadOnlySpan<byte> payload, out int size);
            if (status != LogRecordStatus.Ok)
            {
                // Damage at the end (nothing valid after it) is a write the crash cut short; damage with
                // valid records after it is the disk's fault and must not cost those records.
                int next = Resynchronise(data.AsSpan(0, contentEnd), offset + 1);
                if (next < 0)
                {
                    tailDropped = contentEnd - offset;
                    break;
                }

                skipped += next - offset;
                offset = next;
                continue;
            }

            if (Apply(kind, payload, offset, recovered, ref acks))
                good.Add((kind, offset, size));
            else
                unreadable++;
            offset += size;
        }

        string? damagedCopy = null;
        if (skipped > 0 || unreadable > 0)
        {
            damagedCopy = Rewrite(data, good);
            end = good.Sum(g => (long)g.Size);
            MoveOffsetsAfterRewrite(good);
        }
        else
        {
            end = offset;
            if (tailDropped > 0)
                Truncate(offset);
        }

        return new RecoveryReport(_receiptAt.Count, _rejections.Count, acks, tailDropped, skipped, unreadable, damagedCopy);
    }

    // A record whose checksum holds but whose content does not parse was written that way by a bug;
    // it is counted and kept in the damaged copy rather than trusted.
    private bool Apply(LogRecordKind kind, ReadOnlySpan<byte> payload, long offset, Action<SignedReceipt>? recovered, ref int acks)
    {
        switch (kind)
        {
            case LogRecordKind.Receipt:
                if (!SignedReceipt.TryParse(payload, out SignedReceipt? receipt, out _) || _receiptAt.ContainsKey(receipt!.JobId))
                    return false;
                AddReceipt(receipt.JobId, offset);
                recovered?.Invoke(receipt);
                return true;
            case LogRecordKind.Rejection:
                if (!SignedRejection.TryParse(payload, out SignedRejection? rejection, out _) || !_rejected.Add(rejection!.JobId))
                    return false;
                _rejections.Add(rejection);
                return true;
            case LogRecordKind.Ack:
                if (!TryReadAck(payload, out string jobId) || !_receiptAt.ContainsKey(jobId))
                    return false;
                if (_unacked.Remove(jobId))
                    acks++;
                return true;
            default:
                return false;
        }
    }

    /// <summary>The rewrite packed the good records together: every receipt's offset moves to its place in the new file.</summary>
    private void MoveOffsetsAfterRewrite(List<(LogRecordKind Kind, int Offset, int Size)> good)
    {
        var moved = new Dictionary<long, long>(good.Count);
        long at = 0;
        foreach ((_, int offset, int size) in good)
        {
            moved[offset] = at;
            at += size;
        }

        foreach (string jobId in _receiptAt.Keys.ToArray())
            _receiptAt[jobId] = moved[_receiptAt[jobId]];
        foreach (string jobId in _unacked.Keys.ToArray())
            _unacked[jobId] = moved[_unacked[jobId]];
    }

    /// <summary>The first offset at or after <paramref name="from"/> where a whole valid record starts, or -1.</summary>
    private static int Resynchronise(ReadOnlySpan<byte> data, int from)
    {
        for (int at = from; at + LogRecord.HeaderSize < data.Length; at++)
        {
            // Cheap filters first: a plausible kind and a payload that opens a JSON object.
            byte kind = data[at + 8];
            if (kind is < (byte)LogRecordKind.Receipt or > (byte)LogRecordKind.Ack || data[at + LogRecord.HeaderSize] != (byte)'{')
                continue;
            if (LogRecord.TryRead(data[at..], out _, out _, out _) == LogRecordStatus.Ok)
                return at;
        }

        return -1;
    }

    private void Truncate(long length)
    {
        using SafeFileHandle handle = File.OpenHandle(_path, FileMode.Open, FileAccess.ReadWrite);
        RandomAccess.SetLength(handle, length);
        RandomAccess.FlushToDisk(handle);
    }

    /// <summary>Copies the damaged file aside, then atomically replaces the log with its good records.</summary>
    private string Rewrite(byte[] data, List<(LogRecordKind Kind, int Offset, int Size)> good)
    {
        string stamp = DateTime.UtcNow.ToString("yyyyMMdd'T'HHmmssfff'Z'", CultureInfo.InvariantCulture);
        string aside = _path + ".damaged-" + stamp;
        WriteSynced(aside, [new ArraySegment<byte>(data)]);

        string temporary = _path + ".rewrite";
        WriteSynced(temporary, good.Select(g => new ArraySegment<byte>(data, g.Offset, g.Size)).ToList());
        File.Move(temporary, _path, overwrite: true);
        SyncDirectory();
        return aside;
    }

    private static void WriteSynced(string path, List<ArraySegment<byte>> parts)
    {
        using FileStream stream = OpenOwnerOnly(path, FileMode.Create, FileAccess.Write, FileShare.None);
        SafeFileHandle handle = stream.SafeFileHandle;
        long at = 0;
        foreach (ArraySegment<byte> part in parts)
        {
            RandomAccess.Write(handle, part, at);
            at += part.Count;
        }

        RandomAccess.FlushToDisk(handle);
    }

    // Receipts are not secret, but nobody else should be able to append to or truncate them: 0600.
    // The stream only owns the handle; all I/O goes through RandomAccess at explicit offsets.
    private static FileStream OpenOwnerOnly(string path, FileMode mode, FileAccess access, FileShare share) =>
        new(path, new FileStreamOptions
        {
            Mode = mode,
            Access = access,
            Share = share,
            BufferSize = 0,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        });

    private void SyncDirectory()
    {
        int errno = Libc.FsyncDirectory(Directory);
        if (errno != 0)
        {
            throw new ReceiptLogException(ReceiptLogFailure.Io,
                $"fsync of the folder {Directory} failed (errno {errno}); the log's file entry may not survive a crash: check the state_dir filesystem");
        }
    }

    private enum PendingOutcome
    {
        Waiting,
        Durable,
        Failed,
    }

    /// <summary>A record written to the file and waiting for the group fsync that makes it durable.</summary>
    private sealed class PendingRecord(LogRecordKind kind, string jobId, SignedRejection? rejection)
    {
        public LogRecordKind Kind { get; } = kind;

        public string JobId { get; } = jobId;

        public SignedRejection? Rejection { get; } = rejection;

        /// <summary>Where the record starts and ends in the file.</summary>
        public long Start { get; set; }

        public long End { get; set; }

        public PendingOutcome Outcome { get; set; }

        public ReceiptLogException? Failure { get; set; }

        /// <summary>What a caller whose record rides on another's fsync awaits.</summary>
        public TaskCompletionSource<bool> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
