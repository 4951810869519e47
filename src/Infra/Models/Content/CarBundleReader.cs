using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace InfraMind.Node.Models.Content;

/// <summary>Where an extraction is.</summary>
public enum BundleStage
{
    /// <summary>Reading and verifying the CAR's blocks (file bytes are written as they arrive when the CAR is in DAG order).</summary>
    Receiving,

    /// <summary>A file is complete (reported once per file).</summary>
    Writing,

    /// <summary>The bundle is in place.</summary>
    Done,
}

/// <summary>Progress of one extraction: CAR bytes read, blocks verified, file bytes written.</summary>
public readonly record struct BundleProgress(BundleStage Stage, long BytesRead, int BlocksVerified, long BytesWritten);

/// <summary>What an extraction wrote.</summary>
public sealed record BundleSummary(Cid Root, bool IsDirectory, int Files, int Directories, long Bytes, int Blocks, long CarBytes);

/// <summary>
/// Turns a CAR from an IPFS trustless gateway into a folder, trusting nothing but the requested root CID.
/// The CAR's root must be that CID (checked before any block is read). The DAG is walked from the root in one pass
/// over the stream: the walk pulls blocks from the CAR as it needs them, each verified against its CID as it
/// arrives. A CAR in DAG order (what `ipfs dag export` and gateways send: directory, file root, then its leaves in
/// order) is therefore written straight to the output files. Two busy threads: this one reads, parses and writes each
/// raw leaf at its file offset, while <see cref="BlockVerifier"/>'s thread checks the leaf against its CID (dag-pb
/// nodes, which the walk decodes, are checked before use by <see cref="CarReader"/>). A leaf's bytes may so reach the
/// partial folder before its check ends; the folder is renamed into place only after every check passed, and
/// deleted otherwise, so no unverified byte is ever accepted output. A block that comes before
/// the walk needs it is parked in a temporary spool and read back when needed, so any order is accepted.
/// Everything is written into a temporary sibling of the output, renamed into place only when everything checked
/// out; on any failure nothing is left: not the partial folder (with whatever was written directly), not the spool.
/// The checks: names that could escape the folder, file lengths against UnixFS filesize, blocksizes and Tsize,
/// missing blocks, blocks the DAG never reaches (a gateway sending unrelated data is not trusted), size limits.
/// </summary>
public static class CarBundleReader
{
    /// <summary>Deepest DAG accepted (directories and file trees together).</summary>
    public const int MaxDepth = 256;

    /// <summary>
    /// Most nodes a walk may visit. A DAG may link one block many times (legitimately: repeated chunks), so a few KiB
    /// of CAR could otherwise describe billions of empty entries.
    /// </summary>
    public const int MaxNodeVisits = 4 * 1024 * 1024;

    /// <summary>Longest file name Linux file systems take, in bytes.</summary>
    public const int MaxNameBytes = 255;

    /// <summary>
    /// Raw leaf buffers being filled, queued or hashed at most: enough that the reader rarely waits for the hash
    /// thread, few enough to bound memory (4 × a block, at most 8 MiB).
    /// </summary>
    private const int VerifyBuffers = 4;

    /// <summary>
    /// Extracts the DAG under <paramref name="root"/> from <paramref name="car"/> into <paramref name="outputDirectory"/>,
    /// which must not exist. A directory root becomes the folder; a file root becomes the one file
    /// <paramref name="fileName"/> inside it.
    /// </summary>
    /// <param name="maxBytes">
    /// Most file bytes the bundle may hold (<see cref="BundleError.TooLarge"/>). The CAR stream may exceed it by
    /// 1/16 plus 1 MiB, room for the DAG's own nodes and framing.
    /// </param>
    public static async Task<BundleSummary> ExtractAsync(
        Cid root,
        Stream car,
        string outputDirectory,
        string fileName,
        long maxBytes,
        IProgress<BundleProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(root);
        ArgumentNullException.ThrowIfNull(car);
        ArgumentException.ThrowIfNullOrEmpty(outputDirectory);
        if (UnsafeName(fileName) is string why)
            ThrowHelper.ThrowArgument(nameof(fileName), $"the file name for a bare file bundle {why}");
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxBytes);

        string output = Path.TrimEndingDirectorySeparator(Path.GetFullPath(outputDirectory));
        string parent = Path.GetDirectoryName(output) ?? output;
        string name = Path.GetFileName(output);
        if (name.Length == 0)
            ThrowHelper.ThrowArgument(nameof(outputDirectory), "the output folder cannot be the file system root");
        if (Path.Exists(output))
            BundleThrow.Throw(BundleError.OutputExists, $"{output} already exists; the bundle is written into a new folder only; remove it or choose another path");
        Directory.CreateDirectory(parent);

        long carLimit = maxBytes > long.MaxValue / 2 ? long.MaxValue : maxBytes + (maxBytes / 16) + (1 << 20);
        var reader = new CarReader(car, carLimit, leaveOpen: true);
        await using (reader.ConfigureAwait(false))
        {
            CarHeader header = await reader.ReadHeaderAsync(cancellationToken).ConfigureAwait(false);
            if (header.Roots.Count != 1)
                BundleThrow.Throw(BundleError.RootMismatch, $"the CAR names {header.Roots.Count} roots; a bundle's CAR has exactly one, {root}; fetch from another gateway");
            if (!header.Roots[0].SameContent(root))
                BundleThrow.Throw(BundleError.RootMismatch, $"the CAR's root is {header.Roots[0]} but {root} was asked for; the gateway answered with other content; fetch from another gateway");

            using BlockSpool spool = BlockSpool.Create(parent, name);
            string partial = Path.Combine(parent, $".{name}.partial-{Guid.NewGuid():N}");
            Directory.CreateDirectory(partial);
            try
            {
                Walk walk;
                bool isDirectory;
                var verifier = new BlockVerifier(VerifyBuffers);
                try
                {
                    walk = new Walk(reader, spool, verifier, maxBytes, progress, cancellationToken);
                    isDirectory = await walk.RootAsync(root, partial, fileName).ConfigureAwait(false);
                    await walk.FinishStreamAsync().ConfigureAwait(false);

                    // The gate: every leaf written before its check must have passed before anything is accepted.
                    await verifier.FinishAsync().ConfigureAwait(false);
                }
                finally
                {
                    await verifier.DisposeAsync().ConfigureAwait(false);
                }

                int unreached = spool.Unreached(out Cid? stray);
                if (unreached > 0)
                    BundleThrow.Throw(BundleError.UnexpectedBlock, $"the CAR carried {unreached} block(s) the DAG under {root} never reaches (one is {stray}); a trustless gateway sends only the DAG asked for; fetch from another gateway");
                try
                {
                    Directory.Move(partial, output);
                }
                catch (IOException e) when (Path.Exists(output))
                {
                    throw new BundleException(BundleError.OutputExists, $"{output} appeared while the bundle was being written; remove it or choose another path", e);
                }

                var summary = new BundleSummary(root, isDirectory, walk.Files, walk.Directories, walk.Written, reader.BlocksVerified, reader.BytesRead);
                progress?.Report(new BundleProgress(BundleStage.Done, reader.BytesRead, reader.BlocksVerified, walk.Written));
                return summary;
            }
            catch
            {
                TryDelete(partial);
                throw;
            }
        }
    }

    /// <summary>Why a directory entry name is unsafe to create, or null when it is fine.</summary>
    public static string? UnsafeName(string? name) => name switch
    {
        null => "has no name",
        "" => "is empty",
        "." or ".." => $"is '{name}'",
        _ when name.Contains('/', StringComparison.Ordinal) => $"'{Escape(name)}' contains '/'",
        _ when name.Contains('\0', StringComparison.Ordinal) => $"'{Escape(name)}' contains a NUL",
        _ when System.Text.Encoding.UTF8.GetByteCount(name) > MaxNameBytes => $"is over {MaxNameBytes} bytes",
        _ => null,
    };

    private static string Escape(string name) => name.Replace("\0", "\\0", StringComparison.Ordinal);

    private static void TryDelete(string folder)
    {
        try
        {
            Directory.Delete(folder, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: the folder's dot-name keeps it out of the cache's way.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    /// <summary>
    /// The DAG walk, pulling blocks from the CAR as it needs them. A loaded node's bytes lie in the reader's buffer
    /// or in the spool buffer and are valid until the next load; links are decoded into objects before then.
    /// </summary>
    private sealed class Walk(CarReader reader, BlockSpool spool, BlockVerifier verifier, long maxBytes, IProgress<BundleProgress>? progress, CancellationToken cancellationToken)
    {
        /// <summary>Raw leaves written straight from the stream: where their bytes are, in case the DAG links one again.</summary>
        private readonly Dictionary<Cid, Placed> _placed = [];
        private byte[] _block = [];
        private int _visits;
        private bool _ended;
        private SafeFileHandle? _file;
        private string _path = "";
        private long _fileOffset;

        public int Files { get; private set; }

        public int Directories { get; private set; }

        public long Written { get; private set; }

        /// <summary>Writes the root into <paramref name="folder"/>; true when it was a directory.</summary>
        public async ValueTask<bool> RootAsync(Cid root, string folder, string fileName)
        {
            Node node = await LoadAsync(root, 0).ConfigureAwait(false);
            if (node.Data?.Type == UnixFsType.Directory)
            {
                Directories++;
                await DirectoryAsync(root, node.Pb!, folder, 0).ConfigureAwait(false);
                return true;
            }

            await FileAsync(root, node, Path.Combine(folder, fileName), tsize: null, 0).ConfigureAwait(false);
            return false;
        }

        /// <summary>
        /// Reads what the CAR still holds once the DAG is complete: every block is still verified, repeats are
        /// ignored, and anything else is spooled unreached (and so refused as unrelated).
        /// </summary>
        public async ValueTask FinishStreamAsync()
        {
            while (!_ended && await ReadAsync().ConfigureAwait(false) is CarBlock block)
                await ParkAsync(block, reader.BlocksVerified).ConfigureAwait(false);
        }

        private async ValueTask DirectoryAsync(Cid cid, PbNode node, string folder, int depth)
        {
            var names = new HashSet<string>(node.Links.Count, StringComparer.Ordinal);
            foreach (PbLink link in node.Links)
            {
                if (UnsafeName(link.Name) is string why)
                    BundleThrow.Throw(BundleError.UnsafeName, $"directory {cid} has an entry that {why}; such a name could escape or break the bundle folder, so the bundle is refused");
                string name = link.Name!;
                if (!names.Add(name))
                    BundleThrow.Throw(BundleError.DagMalformed, $"directory {cid} has two entries named '{name}'");
                string path = Path.Combine(folder, name);
                Node child = await LoadAsync(link.Cid, depth + 1).ConfigureAwait(false);
                if (child.Data?.Type == UnixFsType.Directory)
                {
                    Directory.CreateDirectory(path);
                    Directories++;
                    await DirectoryAsync(link.Cid, child.Pb!, path, depth + 1).ConfigureAwait(false);
                }
                else
                {
                    await FileAsync(link.Cid, child, path, link.Tsize, depth + 1).ConfigureAwait(false);
                }
            }
        }

        private async ValueTask FileAsync(Cid cid, Node top, string path, ulong? tsize, int depth)
        {
            if (top.Data?.FileSize is ulong claimed && claimed > (ulong)(maxBytes - Written))
                BundleThrow.Throw(BundleError.TooLarge, $"file node {cid} says the file is {claimed} bytes, over what is left of the {maxBytes}-byte limit");

            // FileShare.Read: a leaf the DAG links twice is read back from the file that holds it. Preallocated from
            // the claimed size (already within the limit): the file system reserves the extents once, not per write;
            // a claim the blocks do not meet fails the walk and the partial folder goes.
            long preallocate = (long)(top.Data?.FileSize ?? 0);
            using SafeFileHandle file = File.OpenHandle(path, FileMode.CreateNew, FileAccess.Write, FileShare.Read, FileOptions.None, preallocate);
            (_file, _path, _fileOffset) = (file, path, 0);
            try
            {
                long length = await FileNodeAsync(cid, top, depth).ConfigureAwait(false);
                CheckTsize(cid, tsize, length);
            }
            finally
            {
                _file = null;
            }

            Files++;
            progress?.Report(new BundleProgress(BundleStage.Writing, reader.BytesRead, reader.BlocksVerified, Written));
        }

        /// <summary>
        /// Writes the bytes of the file DAG under <paramref name="cid"/>, whose block is <paramref name="node"/> (still
        /// in the shared buffer), and returns how many.
        /// </summary>
        private async ValueTask<long> FileNodeAsync(Cid cid, Node node, int depth)
        {
            if (node.Data is not UnixFsData data)
            {
                if (node.Direct)
                    _placed.TryAdd(cid.ToV1(), new Placed(_path, _fileOffset, node.Block.Length));
                await WriteAsync(node.Block, node.Direct ? node.Unchecked : null).ConfigureAwait(false);
                return node.Block.Length;
            }

            if (data.Type is not (UnixFsType.File or UnixFsType.Raw))
                BundleThrow.Throw(BundleError.DagMalformed, $"node {cid} is a UnixFS directory inside a file");
            IReadOnlyList<PbLink> links = node.Pb!.Links;
            IReadOnlyList<ulong> sizes = data.BlockSizes;
            if (links.Count > 0 && sizes.Count != links.Count)
                BundleThrow.Throw(BundleError.DagMalformed, $"file node {cid} has {links.Count} links but {sizes.Count} blocksizes");

            // The node's own bytes come first; they live in the shared buffer, so they are written before any child loads.
            long produced = data.Data.Length;
            await WriteAsync(data.Data, owedCheck: null).ConfigureAwait(false);
            for (int i = 0; i < links.Count; i++)
            {
                PbLink link = links[i];
                Node child = await LoadAsync(link.Cid, depth + 1).ConfigureAwait(false);
                long length = await FileNodeAsync(link.Cid, child, depth + 1).ConfigureAwait(false);
                if ((ulong)length != sizes[i])
                    BundleThrow.Throw(BundleError.DagMalformed, $"file node {cid}: child {i} ({link.Cid}) holds {length} bytes but blocksizes says {sizes[i]}");
                CheckTsize(link.Cid, link.Tsize, length);
                produced += length;
            }

            if (data.FileSize is ulong expected && expected != (ulong)produced)
                BundleThrow.Throw(BundleError.DagMalformed, $"file node {cid} says the file is {expected} bytes but its blocks hold {produced}");
            return produced;
        }

        /// <summary>Tsize counts a child's whole DAG, so it can never be less than the file bytes under it.</summary>
        private static void CheckTsize(Cid cid, ulong? tsize, long length)
        {
            if (tsize is ulong cumulative && (ulong)length > cumulative)
                BundleThrow.Throw(BundleError.DagMalformed, $"the link to {cid} gives Tsize {cumulative}, less than the {length} file bytes under it");
        }

        /// <summary>
        /// Writes file bytes at the current file's next offset, on this thread (a copy into the page cache while the
        /// bytes are still in its CPU cache). A raw leaf straight from the stream whose check is still owed
        /// (<paramref name="owedCheck"/>: its CID and place in the CAR) goes to the hash thread with the reader's
        /// buffer, which gets a free one in exchange, and is written while it is hashed.
        /// </summary>
        private async ValueTask WriteAsync(ReadOnlyMemory<byte> bytes, (Cid Cid, int Index)? owedCheck)
        {
            if (owedCheck is (Cid owed, int index) && (bytes.IsEmpty || !MemoryMarshal.TryGetArray(bytes, out _)))
            {
                // Nothing to overlap: check it here.
                VerifyNow(owed, index, bytes);
                owedCheck = null;
            }

            if (bytes.Length > maxBytes - Written)
                BundleThrow.Throw(BundleError.TooLarge, $"the bundle is over its limit of {maxBytes} bytes; raise the limit if the model is really that big");
            if (bytes.IsEmpty)
                return;
            if (owedCheck is (Cid cid, int place) && MemoryMarshal.TryGetArray(bytes, out ArraySegment<byte> segment))
            {
                byte[] replacement = await verifier.RentAsync(segment.Array!.Length, cancellationToken).ConfigureAwait(false);
                byte[] taken = reader.SwapBuffer(replacement);

                // Posted before the write so the hash runs alongside it; the buffer comes back to this thread only
                // through the next RentAsync, after this write returned.
                verifier.Post(cid, place, taken, segment.Offset, segment.Count);
                RandomAccess.Write(_file!, taken.AsSpan(segment.Offset, segment.Count), _fileOffset);
            }
            else
            {
                RandomAccess.Write(_file!, bytes.Span, _fileOffset);
            }

            _fileOffset += bytes.Length;
            Written += bytes.Length;
        }

        /// <summary>
        /// Loads a block and decodes a dag-pb one: from the spool if it came early, from the file it was written to
        /// if it is a raw leaf already placed, else from the stream, parking every block that comes before it.
        /// Nothing is hashed twice: every block was verified as it arrived, and the spool and the partial files
        /// are this process's own, written moments before (a second sha256 pass cost half the extraction time).
        /// </summary>
        private async ValueTask<Node> LoadAsync(Cid cid, int depth)
        {
            if (depth > MaxDepth)
                BundleThrow.Throw(BundleError.TooLarge, $"the DAG is over {MaxDepth} levels deep at {cid}");
            if (++_visits > MaxNodeVisits)
                BundleThrow.Throw(BundleError.TooLarge, $"the DAG expands to over {MaxNodeVisits} nodes; the bundle is refused");

            int spooled = spool.LengthOf(cid);
            if (spooled >= 0)
            {
                if (_block.Length < spooled)
                    _block = new byte[Math.Max(spooled, Math.Min(_block.Length * 2, CarReader.MaxBlockBytes))];
                await spool.ReadAsync(cid, _block, cancellationToken).ConfigureAwait(false);
                return Make(cid, _block.AsMemory(0, spooled), direct: false);
            }

            if (_placed.TryGetValue(cid.ToV1(), out Placed placed))
                return Make(cid, await ReadPlacedAsync(placed).ConfigureAwait(false), direct: false);

            while (true)
            {
                if (_ended || await ReadAsync().ConfigureAwait(false) is not CarBlock block)
                    return BundleThrow.Throw<Node>(BundleError.MissingBlock, $"the DAG links to block {cid}, which the CAR did not carry; the gateway sent an incomplete DAG; fetch from another gateway");
                if (block.Cid.SameContent(cid))
                {
                    // A dag-pb node is small: spool it (as used) so a DAG that links it again finds it.
                    // A raw one is not checked yet: it is the leaf FileNodeAsync writes next, and its check goes with it.
                    if (cid.Codec == CidCodec.DagPb)
                    {
                        await spool.AddAsync(block.Cid, block.Data, cancellationToken, reached: true).ConfigureAwait(false);
                        return Make(cid, block.Data, direct: false);
                    }

                    return new Node(block.Data, null, null, Direct: true, Unchecked: (block.Cid, reader.BlocksVerified));
                }

                await ParkAsync(block, reader.BlocksVerified).ConfigureAwait(false);
            }
        }

        private async ValueTask<CarBlock?> ReadAsync()
        {
            CarBlock? block = await reader.ReadBlockAsync(deferRaw: true, cancellationToken).ConfigureAwait(false);
            if (block is null)
                _ended = true;
            else
                progress?.Report(new BundleProgress(BundleStage.Receiving, reader.BytesRead, reader.BlocksVerified, Written));
            return block;
        }

        /// <summary>
        /// Keeps a block that came before the walk needs it (a repeat of a known one is dropped). It is checked here
        /// first: the spool is trusted when read back, and even a dropped repeat must be what its CID says.
        /// </summary>
        private async ValueTask ParkAsync(CarBlock block, int index)
        {
            if (block.Cid.Codec == CidCodec.Raw)
                VerifyNow(block.Cid, index, block.Data);
            if (!_placed.ContainsKey(block.Cid.ToV1()))
                await spool.AddAsync(block.Cid, block.Data, cancellationToken).ConfigureAwait(false);
        }

        /// <summary>
        /// Reads a placed leaf back from its file (written on this thread, so already there). Its own check may still
        /// be running; a mismatch fails the whole extraction before anything is accepted.
        /// </summary>
        private async ValueTask<ReadOnlyMemory<byte>> ReadPlacedAsync(Placed placed)
        {
            if (_block.Length < placed.Length)
                _block = new byte[placed.Length];
            using SafeFileHandle file = File.OpenHandle(placed.Path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            int read = 0;
            while (read < placed.Length)
            {
                int n = await RandomAccess.ReadAsync(file, _block.AsMemory(read, placed.Length - read), placed.Offset + read, cancellationToken).ConfigureAwait(false);
                if (n == 0)
                    throw new IOException($"{placed.Path} is shorter than what was written to it");
                read += n;
            }

            return _block.AsMemory(0, placed.Length);
        }

        private static void VerifyNow(Cid cid, int index, ReadOnlyMemory<byte> block)
        {
            if (!cid.Verifies(block.Span))
                BundleThrow.Throw(BundleError.BlockHashMismatch, $"block {cid} (#{index} in the CAR, {block.Length} bytes) does not hash to its CID; the gateway sent corrupt or forged data; fetch from another gateway");
        }

        private static Node Make(Cid cid, ReadOnlyMemory<byte> block, bool direct) =>
            cid.Codec == CidCodec.Raw ? new Node(block, null, null, direct, null) : Decode(cid, block);

        private static Node Decode(Cid cid, ReadOnlyMemory<byte> block)
        {
            try
            {
                PbNode node = DagPb.Decode(block);
                if (node.Data is not ReadOnlyMemory<byte> bytes)
                    return BundleThrow.Throw<Node>(BundleError.DagMalformed, "it has no Data, so it is no UnixFS node");
                UnixFsData data = UnixFs.Decode(bytes);
                if (data.Type is UnixFsType.HamtShard or UnixFsType.Symlink or UnixFsType.Metadata)
                    BundleThrow.Throw(BundleError.Unsupported, $"it is a UnixFS {Describe(data.Type)}, which model bundles may not contain; re-add the model without it");
                if (data.Type == UnixFsType.Directory && data.Data.Length > 0)
                    BundleThrow.Throw(BundleError.DagMalformed, "it is a directory carrying file data");
                return new Node(block, node, data, Direct: false, Unchecked: null);
            }
            catch (BundleException e)
            {
                throw new BundleException(e.Error, $"block {cid}: {e.Message}", e);
            }
        }

        private static string Describe(UnixFsType type) => type switch
        {
            UnixFsType.HamtShard => "HAMT-sharded directory (a directory too big for one block)",
            UnixFsType.Symlink => "symlink",
            UnixFsType.Metadata => "metadata node",
            UnixFsType.Directory => "directory",
            UnixFsType.File => "file",
            _ => "raw node",
        };

        /// <summary>
        /// A loaded block: raw bytes (Pb and Data null) or a dag-pb node with its UnixFS data. Direct: a raw block
        /// still in the reader's buffer, which a write may take over; Unchecked: the CID and CAR place of a raw block
        /// whose check against its CID is still owed (always paired with Direct).
        /// </summary>
        private readonly record struct Node(ReadOnlyMemory<byte> Block, PbNode? Pb, UnixFsData? Data, bool Direct, (Cid Cid, int Index)? Unchecked);

        /// <summary>Where a raw leaf written straight from the stream lies.</summary>
        private readonly record struct Placed(string Path, long Offset, int Length);
    }
}
