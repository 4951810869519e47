using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace InfraMind.Node.Models.Content;

/// <summary>
/// Verified blocks parked in one temporary file, so a multi-GB bundle never sits in memory, with an index from
/// CID to where each block lies. The file is unlinked as soon as it is open: it has no name another process
/// could open, and it vanishes with the handle even if the node is killed.
/// Blocks are keyed by codec and digest, so a CIDv0 link finds a block the CAR named as CIDv1 and the reverse.
/// </summary>
internal sealed class BlockSpool : IDisposable
{
    private readonly SafeFileHandle _file;
    private readonly Dictionary<Cid, Entry> _index = [];
    private long _end;

    private BlockSpool(SafeFileHandle file)
    {
        _file = file;
    }

    public int Count => _index.Count;

    public long Length => _end;

    /// <summary>The largest block held.</summary>
    public int MaxBlockLength { get; private set; }

    public static BlockSpool Create(string directory, string prefix)
    {
        string path = Path.Combine(directory, $".{prefix}.spool-{Guid.NewGuid():N}");
        SafeFileHandle file = File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None);
        try
        {
            File.Delete(path);
        }
        catch
        {
            file.Dispose();
            throw;
        }

        return new BlockSpool(file);
    }

    /// <summary>True when the spool holds the block (under any CID version).</summary>
    public bool Contains(Cid cid) => _index.ContainsKey(cid.ToV1());

    /// <summary>
    /// Appends a verified block; false (and nothing written) when the CAR already carried it. <paramref name="reached"/>
    /// marks a block the walk has already used (kept only in case the DAG links it again).
    /// </summary>
    public async ValueTask<bool> AddAsync(Cid cid, ReadOnlyMemory<byte> data, CancellationToken cancellationToken, bool reached = false)
    {
        Cid key = cid.ToV1();
        if (_index.ContainsKey(key))
            return false;
        await RandomAccess.WriteAsync(_file, data, _end, cancellationToken).ConfigureAwait(false);
        _index.Add(key, new Entry(_end, data.Length, reached));
        _end += data.Length;
        MaxBlockLength = Math.Max(MaxBlockLength, data.Length);
        return true;
    }

    /// <summary>The length of a held block, or -1.</summary>
    public int LengthOf(Cid cid) => _index.TryGetValue(cid.ToV1(), out Entry entry) ? entry.Length : -1;

    /// <summary>
    /// Reads a block into <paramref name="buffer"/> and marks it reached; -1 when the CAR did not carry it.
    /// </summary>
    public async ValueTask<int> ReadAsync(Cid cid, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        ref Entry entry = ref CollectionsMarshal.GetValueRefOrNullRef(_index, cid.ToV1());
        if (System.Runtime.CompilerServices.Unsafe.IsNullRef(ref entry))
            return -1;
        entry.Reached = true;
        (long offset, int length) = (entry.Offset, entry.Length);
        int read = 0;
        while (read < length)
        {
            int n = await RandomAccess.ReadAsync(_file, buffer[read..length], offset + read, cancellationToken).ConfigureAwait(false);
            if (n == 0)
                throw new IOException("the block spool file is shorter than what was written to it");
            read += n;
        }

        return length;
    }

    /// <summary>How many blocks were never read back, and one of them to name.</summary>
    public int Unreached(out Cid? example)
    {
        example = null;
        int count = 0;
        foreach ((Cid cid, Entry entry) in _index)
        {
            if (entry.Reached)
                continue;
            example ??= cid;
            count++;
        }

        return count;
    }

    public void Dispose() => _file.Dispose();

    private record struct Entry(long Offset, int Length, bool Reached);
}
