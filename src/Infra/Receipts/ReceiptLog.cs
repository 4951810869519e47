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
    string? DamagedCopy,
    int SignaturesChecked = 0)
{
    /// <summary>True when nothing but a torn tail (a write cut short by a crash) had to be repaired.</summary>
    public bool MiddleIntact => CorruptBytesSkipped == 0 && UnreadableRecords == 0;

    public string Describe()
    {
        string text = $"receipt log: {Receipts} receipts, {Rejections} rejections, {Acks} acks, {SignaturesChecked} signatures checked";
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
/// <c>receipts.lock</c>). Opening also checks the signature of every receipt and rejection written since the last
/// start checked them (<see cref="VerifiedPrefix"/>, saved in <c>receipts.verified</c>): a record that does not recover
/// to its node is not trusted, and a start does not pay an ECDSA recovery for every record the node ever logged.
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

    /// <summary>How much of the file recovery reads at a time.</summary>
    internal const int RecoveryWindow = 1 << 20;

    /// <summary>
    /// How many durable records may come after the saved <see cref="VerifiedPrefix"/> before it is saved again (and at
    /// close): after a crash, the next start checks at most this many signatures more than it has to, about a second.
    /// </summary>
    internal const int DefaultVerifiedPrefixEvery = 4096;

    private static readonly byte[] Zeros = new byte[64 * 1024];

    private readonly Lock _gate = new();
    private readonly string _path;
    private readonly FileStream _lock;
    private readonly FileStream _stream;
    private readonly SafeFileHandle _file;
    // Records are read from the file when asked for: memory holds where each one starts, by a hash of its job id, and
    // whether a receipt is acked: 16 bytes a record, no string (bench/README.md, "Soak").
    private readonly RecordIndex _index;
    private readonly List<PendingRecord> _pending = [];
    // What _pending holds, by kind and job: a second record of either is refused while the first waits for its fsync.
    private readonly HashSet<(LogRecordKind Kind, string JobId)> _pendingKeys = [];
    // _length: the end of the last record; _reserved: the end of the zeros written after it (the file's length).
    private long _length;
    private long _reserved;
    private bool _syncing;
    private int _groupSyncs;
    private bool _broken;
    // The log's records as a chain of hashes, to the end of the last record written and of the last durable one, and
    // the one saved: a start checks the signatures of records after the saved prefix only (VerifiedPrefix).
    private VerifiedPrefix _written;
    private VerifiedPrefix _durable;
    private VerifiedPrefix _saved;
    private int _unsavedRecords;

    private ReceiptLog(string directory, FileStream lockFile, RecordIndex index, int recoveryWindow)
    {
        Directory = directory;
        _path = Path.Combine(directory, FileName);
        _lock = lockFile;
        _index = index;
        Recovery = Recover(recoveryWindow, out long end, out _durable);
        _written = _durable;
        SaveVerifiedPrefix();
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
                offsets = _index.ReceiptOffsets(unackedOnly: false);
            return ReadReceipts(offsets);
        }
    }

    /// <summary>The last <paramref name="count"/> receipts logged (all when fewer), in log order, read from the file.</summary>
    public IReadOnlyList<SignedReceipt> Latest(int count)
    {
        long[] offsets;
        lock (_gate)
            offsets = _index.ReceiptOffsets(unackedOnly: false);
        return ReadReceipts(offsets[Math.Max(0, offsets.Length - count)..]);
    }

    /// <summary>How many receipts the log holds.</summary>
    public int ReceiptCount
    {
        get
        {
            lock (_gate)
                return _index.Receipts;
        }
    }

    /// <summary>How many rejections the log holds.</summary>
    public int RejectionCount
    {
        get
        {
            lock (_gate)
                return _index.Rejections;
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

    /// <summary>Records between saves of the verified prefix (<see cref="DefaultVerifiedPrefixEvery"/>); tests save sooner.</summary>
    internal int VerifiedPrefixEvery { get; set; } = DefaultVerifiedPrefixEvery;

    /// <summary>Opens (creating if needed) the log in <paramref name="directory"/>, recovering it first.</summary>
    public static ReceiptLog Open(string directory) => Open(directory, new RecordIndex(), RecoveryWindow);

    /// <summary>Opens with <paramref name="index"/> (tests force hash collisions) and a recovery read window of <paramref name="recoveryWindow"/> bytes.</summary>
    internal static ReceiptLog Open(string directory, RecordIndex index, int recoveryWindow)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(recoveryWindow, LogRecord.SizeOf(LogRecord.MaxPayload));
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
            return new ReceiptLog(directory, lockFile, index, recoveryWindow);
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
        AppendAsync(new PendingRecord(LogRecordKind.Receipt, receipt.JobId), json ?? receipt.ToJson());

    /// <summary>Appends a rejection and fsyncs; false when the job was already rejected.</summary>
    public bool TryAppend(SignedRejection rejection, byte[]? json = null) =>
        Wait(AppendAsync(new PendingRecord(LogRecordKind.Rejection, rejection.JobId), json ?? rejection.ToJson()));

    /// <summary>The logged receipt of <paramref name="jobId"/>, read from the file.</summary>
    public bool TryGet(string jobId, out SignedReceipt? receipt)
    {
        // The receipt read is its own confirmation of the hash match: one read a candidate, outside the lock.
        long[] candidates;
        lock (_gate)
            candidates = _index.Candidates(_index.Hash(jobId), LogRecordKind.Receipt);
        foreach (long offset in candidates)
        {
            receipt = ReadReceiptAt(offset);
            if (receipt.JobId == jobId)
                return true;
        }

        receipt = null;
        return false;
    }

    /// <summary>Whether <paramref name="jobId"/> has a receipt here (the replay check of every job): the file is read only to confirm a hash match.</summary>
    public bool HasReceipt(string jobId)
    {
        lock (_gate)
            return Find(LogRecordKind.Receipt, jobId) >= 0;
    }

    public bool IsAcked(string jobId)
    {
        lock (_gate)
        {
            int slot = Find(LogRecordKind.Receipt, jobId);
            return slot >= 0 && !_index.IsUnacked(slot);
        }
    }

    /// <summary>How many receipts the scheduler has not acked, without reading them (asked after every ack).</summary>
    public int UnackedCount
    {
        get
        {
            lock (_gate)
                return _index.Unacked;
        }
    }

    /// <summary>Receipts the scheduler has not acked, in log order: what to send again after a reconnect.</summary>
    public IReadOnlyList<SignedReceipt> Unacked() => [.. EnumerateUnacked()];

    /// <summary>
    /// The receipts unacked when called, in log order, each read from the file as the caller gets to it: a backlog of any
    /// size holds 8 bytes a receipt in memory until it is read. One acked meanwhile is still given.
    /// </summary>
    public IEnumerable<SignedReceipt> EnumerateUnacked()
    {
        long[] offsets;
        lock (_gate)
            offsets = _index.ReceiptOffsets(unackedOnly: true);
        foreach (long offset in offsets)
            yield return ReadReceiptAt(offset);
    }

    /// <summary>
    /// Records the scheduler's receipt_ack. False for a job with no receipt here (nothing is written);
    /// true, without writing again, when it was already acked.
    /// </summary>
    public bool MarkAcked(string jobId)
    {
        long receiptAt;
        lock (_gate)
        {
            int slot = Find(LogRecordKind.Receipt, jobId);
            if (slot < 0)
                return false;
            receiptAt = _index.OffsetAt(slot);
        }

        // False from the append means acked already (or waiting for its fsync): nothing more to write. The ack carries
        // its receipt's offset, so neither the check nor the publish reads the receipt from the file again.
        Wait(AppendAsync(new PendingRecord(LogRecordKind.Ack, jobId) { ReceiptAt = receiptAt }, AckPayload(jobId)));
        return true;
    }

    public void Dispose()
    {
        lock (_gate)
            SaveVerifiedPrefix();
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
                // An ack is written once, and only for a receipt here (MarkAcked found it).
                LogRecordKind.Ack => !_index.IsUnacked(ReceiptSlot(pending)),
                _ => Find(pending.Kind, pending.JobId) >= 0,
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
        pending.Prefix = _written;
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
            _written = _written.Extend(record.AsSpan(0, size));
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
                if (_unsavedRecords >= VerifiedPrefixEvery)
                    SaveVerifiedPrefix();
            }
            else
            {
                // What the kernel could not sync cannot be trusted to be in the file: cut back to the end of the last
                // durable record and fail every record after it, the ones written during the fsync included.
                long durable = _pending.Count > 0 ? _pending[0].Start : _length;
                CutBackTo(durable);
                _length = durable;
                _written = _durable;
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
        _durable = pending.Prefix;
        _unsavedRecords++;
        if (pending.Kind == LogRecordKind.Ack)
        {
            _index.MarkAcked(ReceiptSlot(pending));
        }
        else
        {
            _index.Add(_index.Hash(pending.JobId), pending.Start, pending.Kind);
        }

        pending.Outcome = PendingOutcome.Durable;
    }

    /// <summary>Saves the durable records' chain when it moved (at open, every <see cref="DefaultVerifiedPrefixEvery"/> records, at close); called holding <see cref="_gate"/> or from the constructor.</summary>
    private void SaveVerifiedPrefix()
    {
        if (_durable == _saved || _durable.Length == 0)
            return;
        _durable.Save(Directory);
        _saved = _durable;
        _unsavedRecords = 0;
    }

    private void Forget(PendingRecord pending) => _pendingKeys.Remove((pending.Kind, pending.JobId));

    /// <summary>The index slot of an ack's receipt, by its offset: no read. Receipts are never removed while the log is open.</summary>
    private int ReceiptSlot(PendingRecord ack) => _index.SlotAt(_index.Hash(ack.JobId), LogRecordKind.Receipt, ack.ReceiptAt);

    /// <summary>The index slot of <paramref name="jobId"/>'s record of <paramref name="kind"/>, or -1; called holding <see cref="_gate"/>.</summary>
    private int Find(LogRecordKind kind, string jobId) => Find(_file, kind, jobId);

    private int Find(SafeFileHandle file, LogRecordKind kind, string jobId)
    {
        ulong hash = _index.Hash(jobId);
        int cursor = -1;
        int slot;
        while ((slot = _index.Probe(hash, kind, ref cursor)) >= 0)
        {
            if (RecordJobIdIs(file, _index.OffsetAt(slot), jobId))
                return slot;
        }

        return -1;
    }

    /// <summary>Whether the record at <paramref name="offset"/> is <paramref name="jobId"/>'s: a hash match, confirmed from the file.</summary>
    private bool RecordJobIdIs(SafeFileHandle file, long offset, string jobId)
    {
        byte[] record = ReadRecordAt(file, offset, out int size);
        try
        {
            return LogRecord.TryRead(record.AsSpan(0, size), out _, out ReadOnlySpan<byte> payload, out _) == LogRecordStatus.Ok
                ? PayloadJobIdIs(payload, jobId)
                : throw NoLongerReads(offset);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(record);
        }
    }

    /// <summary>The job id of a receipt or rejection read whole, its signature recovered to its node; null when it is not.</summary>
    private static string? CheckedJobId(LogRecordKind kind, ReadOnlySpan<byte> payload) =>
        kind == LogRecordKind.Receipt
            ? SignedReceipt.TryParse(payload, out SignedReceipt? receipt, out _) ? receipt!.JobId : null
            : SignedRejection.TryParse(payload, out SignedRejection? rejection, out _) ? rejection!.JobId : null;

    /// <summary>The top-level <c>job_id</c> of a receipt's or rejection's JSON, or null.</summary>
    private static string? TopLevelJobId(ReadOnlySpan<byte> payload)
    {
        var reader = new Utf8JsonReader(payload);
        return ReadToJobId(ref reader) ? reader.GetString() : null;
    }

    /// <summary>Whether a receipt's, rejection's or ack's JSON names <paramref name="jobId"/> in its top-level <c>job_id</c>.</summary>
    private static bool PayloadJobIdIs(ReadOnlySpan<byte> payload, string jobId)
    {
        var reader = new Utf8JsonReader(payload);
        return ReadToJobId(ref reader) && reader.ValueTextEquals(jobId);
    }

    /// <summary>Moves <paramref name="reader"/> onto the string value of the object's top-level <c>job_id</c>; false when there is none.</summary>
    private static bool ReadToJobId(ref Utf8JsonReader reader)
    {
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
                return false;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("job_id"u8))
                    return reader.Read() && reader.TokenType == JsonTokenType.String;
                if (!reader.Read() || !reader.TrySkip())
                    return false;
            }
        }
        catch (JsonException)
        {
        }

        return false;
    }

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
        byte[] record = ReadRecordAt(_file, offset, out int size);
        try
        {
            if (LogRecord.TryRead(record.AsSpan(0, size), out LogRecordKind kind, out ReadOnlySpan<byte> payload, out _) == LogRecordStatus.Ok
                && kind == LogRecordKind.Receipt
                && SignedReceipt.TryParseOwn(payload, out SignedReceipt? receipt))
            {
                return receipt!;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(record);
        }

        throw NoLongerReads(offset);
    }

    /// <summary>
    /// The record at <paramref name="offset"/> in a pooled array (the caller returns it): one pread of a page, which
    /// holds a whole receipt, and a second for the rest of a longer record.
    /// </summary>
    private byte[] ReadRecordAt(SafeFileHandle file, long offset, out int size)
    {
        const int FirstRead = 4096;
        byte[] record = ArrayPool<byte>.Shared.Rent(FirstRead);
        int got = RandomAccess.Read(file, record.AsSpan(0, FirstRead), offset);
        int length = got >= LogRecord.HeaderSize ? (int)System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(record) : 0;
        if (length is > 0 and <= LogRecord.MaxPayload)
        {
            size = LogRecord.SizeOf(length);
            if (size <= got)
                return record;
            if (got == FirstRead)
            {
                byte[] larger = ArrayPool<byte>.Shared.Rent(size);
                record.AsSpan(0, got).CopyTo(larger);
                ArrayPool<byte>.Shared.Return(record);
                record = larger;
                if (RandomAccess.Read(file, record.AsSpan(got, size - got), offset + got) == size - got)
                    return record;
            }
        }

        ArrayPool<byte>.Shared.Return(record);
        throw NoLongerReads(offset);
    }

    private ReceiptLogException NoLongerReads(long offset) => new(ReceiptLogFailure.Io,
        $"the record at offset {offset} of {_path} no longer reads back as one; the file changed under the node: check the state_dir disk and restart the node so the log is recovered");

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

    /// <summary>
    /// Reads the file front to back through a window of <paramref name="window"/> bytes (never the whole file: a log
    /// grows without end, and an array cannot hold more than 2 GB), rebuilds the index and repairs what a crash or bad
    /// disk left.
    /// </summary>
    private RecoveryReport Recover(int window, out long end, out VerifiedPrefix chain)
    {
        chain = _saved = default;
        if (!File.Exists(_path))
        {
            end = 0;
            return new RecoveryReport(0, 0, 0, 0, 0, 0, null);
        }

        var bad = new List<(long Start, long Length)>();
        long tailDropped = 0, skipped = 0, offset = 0;
        int unreadable = 0, acks = 0, checkedSignatures = 0;
        using (SafeFileHandle file = File.OpenHandle(_path, FileMode.Open, FileAccess.Read))
        {
            // The zero-filled reserve after the last record is free space: only bytes up to the last non-zero one are read.
            var reader = new LogWindow(file, LogWindow.EndOfContent(file), window);
            // Records a start checked before, unchanged since, are not checked again: one more read of them, no ECDSA.
            // Their chain is the saved one; the records after it extend it.
            chain = _saved = VerifiedPrefix.LoadMatching(Directory, reader);
            long verifiedUpTo = _saved.Length;
            while (offset < reader.ContentEnd)
            {
                ReadOnlySpan<byte> data = reader.At(offset);
                LogRecordStatus status = LogRecord.TryRead(data, out LogRecordKind kind, out ReadOnlySpan<byte> payload, out int size);
                if (status != LogRecordStatus.Ok)
                {
                    // Damage at the end (nothing valid after it) is a write the crash cut short; damage with
                    // valid records after it is the disk's fault and must not cost those records.
                    long next = Resynchronise(reader, offset + 1);
                    if (next < 0)
                    {
                        tailDropped = reader.ContentEnd - offset;
                        break;
                    }

                    bad.Add((offset, next - offset));
                    skipped += next - offset;
                    offset = next;
                    continue;
                }

                bool checkSignature = offset >= verifiedUpTo;
                if (checkSignature && kind != LogRecordKind.Ack)
                    checkedSignatures++;
                if (!Apply(file, kind, payload, offset, checkSignature, ref acks))
                {
                    bad.Add((offset, size));
                    unreadable++;
                }
                else if (checkSignature)
                {
                    // The rewrite below keeps exactly the records applied, so this is also the rewritten file's chain.
                    chain = chain.Extend(data[..size]);
                }

                offset += size;
            }
        }

        string? damagedCopy = null;
        if (bad.Count > 0)
        {
            damagedCopy = Rewrite(offset, bad);
            end = offset - bad.Sum(b => b.Length);
            MoveOffsetsAfterRewrite(bad);
        }
        else
        {
            end = offset;
            if (tailDropped > 0)
                Truncate(offset);
        }

        return new RecoveryReport(_index.Receipts, _index.Rejections, acks, tailDropped, skipped, unreadable, damagedCopy, checkedSignatures);
    }

    // A record whose checksum holds but whose content does not parse, or whose signature does not recover to its node,
    // was written that way by a bug or not by this node; it is counted and kept in the damaged copy rather than trusted.
    // Only records after the verified prefix are read whole and their signatures checked (checkSignature); one inside it
    // is the same bytes a start read whole before, so its job id is all the index needs. Duplicates are checked against
    // records already indexed, read back through the recovery's own handle.
    private bool Apply(SafeFileHandle file, LogRecordKind kind, ReadOnlySpan<byte> payload, long offset, bool checkSignature, ref int acks)
    {
        string? jobId;
        switch (kind)
        {
            case LogRecordKind.Receipt:
            case LogRecordKind.Rejection:
                jobId = checkSignature ? CheckedJobId(kind, payload) : TopLevelJobId(payload);
                if (jobId is null || Find(file, kind, jobId) >= 0)
                    return false;
                _index.Add(_index.Hash(jobId), offset, kind);
                return true;
            case LogRecordKind.Ack:
                if (!TryReadAck(payload, out jobId))
                    return false;
                int slot = Find(file, LogRecordKind.Receipt, jobId);
                if (slot < 0)
                    return false;
                if (_index.IsUnacked(slot))
                {
                    _index.MarkAcked(slot);
                    acks++;
                }

                return true;
            default:
                return false;
        }
    }

    /// <summary>The rewrite left out the bad ranges (in file order): every record moves back by the bad bytes before it.</summary>
    private void MoveOffsetsAfterRewrite(List<(long Start, long Length)> bad)
    {
        var starts = new long[bad.Count];
        var removedBefore = new long[bad.Count];
        long removed = 0;
        for (int i = 0; i < bad.Count; i++)
        {
            starts[i] = bad[i].Start;
            removed += bad[i].Length;
            removedBefore[i] = removed;
        }

        // Records start outside bad ranges: the last range starting before a record ends before it.
        _index.MoveOffsets(offset =>
        {
            int i = Array.BinarySearch(starts, offset);
            int before = (i >= 0 ? i : ~i) - 1;
            return before < 0 ? offset : offset - removedBefore[before];
        });
    }

    /// <summary>The first offset at or after <paramref name="from"/> where a whole valid record starts, or -1.</summary>
    private static long Resynchronise(LogWindow reader, long from)
    {
        for (long at = from; at + LogRecord.HeaderSize < reader.ContentEnd; at++)
        {
            ReadOnlySpan<byte> data = reader.At(at);
            // Cheap filters first: a plausible kind and a payload that opens a JSON object.
            byte kind = data[8];
            if (kind is < (byte)LogRecordKind.Receipt or > (byte)LogRecordKind.Ack || data[LogRecord.HeaderSize] != (byte)'{')
                continue;
            if (LogRecord.TryRead(data, out _, out _, out _) == LogRecordStatus.Ok)
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

    /// <summary>
    /// Copies the damaged file aside, then atomically replaces the log with its first <paramref name="end"/> bytes less
    /// the <paramref name="bad"/> ranges, streamed through a buffer.
    /// </summary>
    private string Rewrite(long end, List<(long Start, long Length)> bad)
    {
        string stamp = DateTime.UtcNow.ToString("yyyyMMdd'T'HHmmssfff'Z'", CultureInfo.InvariantCulture);
        string aside = _path + ".damaged-" + stamp;
        using (SafeFileHandle source = File.OpenHandle(_path, FileMode.Open, FileAccess.Read))
        {
            CopySynced(source, aside, [(0, RandomAccess.GetLength(source))]);
            var good = new List<(long Start, long Length)>();
            long at = 0;
            foreach ((long start, long length) in bad)
            {
                if (start > at)
                    good.Add((at, start - at));
                at = start + length;
            }

            if (end > at)
                good.Add((at, end - at));
            string temporary = _path + ".rewrite";
            CopySynced(source, temporary, good);
            File.Move(temporary, _path, overwrite: true);
        }

        SyncDirectory();
        return aside;
    }

    /// <summary>Writes the <paramref name="ranges"/> of <paramref name="source"/> one after another to a new file, and fsyncs it.</summary>
    private static void CopySynced(SafeFileHandle source, string path, List<(long Start, long Length)> ranges)
    {
        using FileStream stream = OpenOwnerOnly(path, FileMode.Create, FileAccess.Write, FileShare.None);
        SafeFileHandle handle = stream.SafeFileHandle;
        byte[] buffer = new byte[256 * 1024];
        long written = 0;
        foreach ((long start, long length) in ranges)
        {
            for (long done = 0; done < length;)
            {
                int got = LogWindow.ReadFully(source, buffer.AsSpan(0, (int)Math.Min(buffer.Length, length - done)), start + done);
                if (got == 0)
                    throw new IOException($"{path}: the source ended {length - done} bytes early");
                RandomAccess.Write(handle, buffer.AsSpan(0, got), written);
                written += got;
                done += got;
            }
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
    private sealed class PendingRecord(LogRecordKind kind, string jobId)
    {
        public LogRecordKind Kind { get; } = kind;

        public string JobId { get; } = jobId;

        /// <summary>Where the record starts and ends in the file.</summary>
        public long Start { get; set; }

        /// <summary>An ack's receipt: where its record starts.</summary>
        public long ReceiptAt { get; init; }

        public long End { get; set; }

        /// <summary>The log's chain of record hashes up to <see cref="End"/>.</summary>
        public VerifiedPrefix Prefix { get; set; }

        public PendingOutcome Outcome { get; set; }

        public ReceiptLogException? Failure { get; set; }

        /// <summary>What a caller whose record rides on another's fsync awaits.</summary>
        public TaskCompletionSource<bool> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
