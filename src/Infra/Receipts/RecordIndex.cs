using System.IO.Hashing;
using System.Runtime.InteropServices;
using InfraMind.Node.Crypto;

namespace InfraMind.Node.Receipts;

/// <summary>
/// Where each receipt and rejection starts in the receipt log, by a 64-bit hash of its job id: 16 bytes a record in
/// one flat table (open addressing, linear probing), with no string or object per job. The job ids stay in the file:
/// a hash match is only a candidate, and the log confirms it by reading the record's job id (<see cref="Probe"/>),
/// so two ids with one hash never mix up, they only cost a read. A receipt also carries whether the scheduler has
/// acknowledged it. Not thread-safe: <see cref="ReceiptLog"/> holds its lock around every call.
/// </summary>
/// <remarks>
/// The dictionaries this replaced held the job id string and two entries a receipt, about 145 B a job, and made the
/// node's memory grow with every job it ever ran (bench/README.md, "Soak").
/// </remarks>
internal sealed class RecordIndex
{
    // Slot.Entry: offset << 3 | kind << 1 | unacked; zero marks an empty slot (kind is never 0).
    private const int KindShift = 1;
    private const int OffsetShift = 3;
    private const long UnackedBit = 1;

    private readonly Func<string, ulong> _hash;
    private Slot[] _slots = new Slot[64];
    private int _count;
    private int _receipts;
    private int _unacked;

    /// <param name="hash">For tests that force collisions; by default XxHash3 of the id under a per-process random seed,
    /// so nobody can choose ids that collide here.</param>
    public RecordIndex(Func<string, ulong>? hash = null)
    {
        _hash = hash ?? SeededHash();
    }

    public int Receipts => _receipts;

    public int Rejections => _count - _receipts;

    public int Unacked => _unacked;

    public ulong Hash(string jobId) => _hash(jobId);

    public void Add(ulong hash, long offset, LogRecordKind kind)
    {
        if ((_count + 1) * 4 > _slots.Length * 3)
            Grow();
        Insert(_slots, hash, (offset << OffsetShift) | ((long)kind << KindShift) | (kind == LogRecordKind.Receipt ? UnackedBit : 0));
        _count++;
        if (kind == LogRecordKind.Receipt)
        {
            _receipts++;
            _unacked++;
        }
    }

    /// <summary>
    /// The next slot after <paramref name="cursor"/> whose record is of <paramref name="kind"/> and whose id hashes to
    /// <paramref name="hash"/>, or -1. Start with <c>cursor = -1</c>; the caller checks the record's job id at
    /// <see cref="OffsetAt"/> and probes again on a mismatch.
    /// </summary>
    public int Probe(ulong hash, LogRecordKind kind, ref int cursor)
    {
        int mask = _slots.Length - 1;
        int at = cursor < 0 ? (int)hash & mask : (cursor + 1) & mask;
        for (; _slots[at].Entry != 0; at = (at + 1) & mask)
        {
            if (_slots[at].Hash == hash && KindOf(_slots[at].Entry) == kind)
            {
                cursor = at;
                return at;
            }
        }

        cursor = at;
        return -1;
    }

    /// <summary>The offsets of every record of <paramref name="kind"/> whose id hashes to <paramref name="hash"/>: one, nearly always.</summary>
    public long[] Candidates(ulong hash, LogRecordKind kind)
    {
        int count = 0;
        int cursor = -1;
        while (Probe(hash, kind, ref cursor) >= 0)
            count++;
        if (count == 0)
            return [];
        var offsets = new long[count];
        cursor = -1;
        for (int i = 0; i < count; i++)
            offsets[i] = OffsetAt(Probe(hash, kind, ref cursor));
        return offsets;
    }

    /// <summary>The slot of the record of <paramref name="kind"/> at <paramref name="offset"/>, whose id hashes to <paramref name="hash"/>; it must be there.</summary>
    public int SlotAt(ulong hash, LogRecordKind kind, long offset)
    {
        int cursor = -1;
        int slot;
        while ((slot = Probe(hash, kind, ref cursor)) >= 0)
        {
            if (OffsetAt(slot) == offset)
                return slot;
        }

        throw new InvalidOperationException($"the receipt log's index has no {kind} record at offset {offset}");
    }

    public long OffsetAt(int slot) => _slots[slot].Entry >>> OffsetShift;

    public bool IsUnacked(int slot) => (_slots[slot].Entry & UnackedBit) != 0;

    public void MarkAcked(int slot)
    {
        if ((_slots[slot].Entry & UnackedBit) == 0)
            return;
        _slots[slot].Entry &= ~UnackedBit;
        _unacked--;
    }

    /// <summary>The offsets of every receipt (or only the unacked ones), in log order.</summary>
    public long[] ReceiptOffsets(bool unackedOnly)
    {
        var offsets = new long[unackedOnly ? _unacked : _receipts];
        int n = 0;
        foreach (Slot slot in _slots)
        {
            if (slot.Entry != 0 && KindOf(slot.Entry) == LogRecordKind.Receipt && (!unackedOnly || (slot.Entry & UnackedBit) != 0))
                offsets[n++] = slot.Entry >>> OffsetShift;
        }

        Array.Sort(offsets);
        return offsets;
    }

    /// <summary>Moves every record's offset through <paramref name="move"/> (the log was rewritten without its damage).</summary>
    public void MoveOffsets(Func<long, long> move)
    {
        for (int i = 0; i < _slots.Length; i++)
        {
            long entry = _slots[i].Entry;
            if (entry != 0)
                _slots[i].Entry = (move(entry >>> OffsetShift) << OffsetShift) | (entry & ((1L << OffsetShift) - 1));
        }
    }

    private static LogRecordKind KindOf(long entry) => (LogRecordKind)((entry >> KindShift) & 3);

    private static void Insert(Slot[] slots, ulong hash, long entry)
    {
        int mask = slots.Length - 1;
        int at = (int)hash & mask;
        while (slots[at].Entry != 0)
            at = (at + 1) & mask;
        slots[at] = new Slot(hash, entry);
    }

    private void Grow()
    {
        var larger = new Slot[_slots.Length * 2];
        foreach (Slot slot in _slots)
        {
            if (slot.Entry != 0)
                Insert(larger, slot.Hash, slot.Entry);
        }

        _slots = larger;
    }

    private static Func<string, ulong> SeededHash()
    {
        Span<byte> seed = stackalloc byte[sizeof(long)];
        SystemEntropy.Fill(seed);
        long key = MemoryMarshal.Read<long>(seed);
        return id => XxHash3.HashToUInt64(MemoryMarshal.AsBytes(id.AsSpan()), key);
    }

    [StructLayout(LayoutKind.Auto)]
    private record struct Slot(ulong Hash, long Entry);
}
