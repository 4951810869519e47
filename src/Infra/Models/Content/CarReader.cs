using System.Buffers;
using System.IO.Pipelines;

namespace InfraMind.Node.Models.Content;

/// <summary>One verified CAR block. <see cref="Data"/> belongs to the reader and is valid until its next read.</summary>
public readonly record struct CarBlock(Cid Cid, ReadOnlyMemory<byte> Data);

/// <summary>
/// Streams a CARv1 (header, then varint-framed sections of CID + block) and verifies every block against its own
/// CID as it is read, so nothing unverified ever leaves it. It owns the buffers and limits; the bytes are
/// understood by <see cref="CarHeader"/>, <see cref="Cid"/> and <see cref="Varint"/>.
/// A stream that ends inside the header or a section fails with <see cref="BundleError.Truncated"/>; one that
/// ends between sections is the end of the CAR.
/// </summary>
public sealed class CarReader : IAsyncDisposable
{
    public const int MaxHeaderBytes = 64 * 1024;

    /// <summary>Largest block accepted (the bitswap limit): bigger blocks cannot be fetched from IPFS anyway.</summary>
    public const int MaxBlockBytes = 2 * 1024 * 1024;

    /// <summary>Room for a CIDv1 ahead of the block in a section; ours are 34 or 36 bytes.</summary>
    private const int MaxCidBytes = 64;

    private readonly PipeReader _reader;
    private readonly long _maxBytes;
    private byte[] _buffer = [];
    private CarHeader? _header;
    private bool _ended;

    /// <param name="stream">The CAR bytes, e.g. a trustless gateway's response body.</param>
    /// <param name="maxBytes">Most bytes the stream may hold; more is <see cref="BundleError.TooLarge"/>.</param>
    /// <param name="leaveOpen">Leave <paramref name="stream"/> open when the reader is disposed.</param>
    public CarReader(Stream stream, long maxBytes = long.MaxValue, bool leaveOpen = false)
    {
        ArgumentNullException.ThrowIfNull(stream);
        _reader = PipeReader.Create(stream, new StreamPipeReaderOptions(bufferSize: 64 * 1024, leaveOpen: leaveOpen));
        _maxBytes = maxBytes;
    }

    /// <summary>Bytes of the stream consumed so far.</summary>
    public long BytesRead { get; private set; }

    /// <summary>Blocks read and verified so far (with deferred raw checks: read, and verified or handed over to be).</summary>
    public int BlocksVerified { get; private set; }

    /// <summary>Reads and checks the header; the first call must come before <see cref="ReadBlockAsync"/>.</summary>
    public async ValueTask<CarHeader> ReadHeaderAsync(CancellationToken cancellationToken = default)
    {
        if (_header is not null)
            return _header;
        ulong? length = await ReadLengthAsync(cancellationToken).ConfigureAwait(false);
        if (length is null)
            BundleThrow.Throw(BundleError.Truncated, "the CAR stream is empty; the gateway sent no header; retry the fetch");
        if (length == 0)
            BundleThrow.Throw(BundleError.CarMalformed, "the CAR header has length 0");
        if (length > MaxHeaderBytes)
            BundleThrow.Throw(BundleError.BlockTooLarge, $"the CAR header says it is {length} bytes; the limit is 64 KiB");
        CheckLimit(length.Value);
        await FillAsync((int)length.Value, "its header", cancellationToken).ConfigureAwait(false);
        _header = CarHeader.Parse(_buffer.AsSpan(0, (int)length.Value));
        return _header;
    }

    /// <summary>Reads the next block, verified against its CID; null at the end of the CAR.</summary>
    public ValueTask<CarBlock?> ReadBlockAsync(CancellationToken cancellationToken = default) =>
        ReadBlockAsync(deferRaw: false, cancellationToken);

    /// <summary>
    /// As <see cref="ReadBlockAsync(CancellationToken)"/>, but with <paramref name="deferRaw"/> a raw block (codec raw)
    /// comes back NOT yet checked against its CID: the caller owes the check (<see cref="BlockVerifier"/>, or
    /// <see cref="Cid.Verifies"/>) before it accepts anything made from it. dag-pb blocks are always checked here,
    /// since the walk decodes them at once.
    /// </summary>
    internal async ValueTask<CarBlock?> ReadBlockAsync(bool deferRaw, CancellationToken cancellationToken)
    {
        if (_header is null)
            ThrowHelper.ThrowRuntime("CarReader: read the header before the blocks");
        if (_ended)
            return null;
        ulong? length = await ReadLengthAsync(cancellationToken).ConfigureAwait(false);
        if (length is null)
        {
            _ended = true;
            return null;
        }

        int index = BlocksVerified + 1;
        if (length == 0)
            BundleThrow.Throw(BundleError.CarMalformed, $"block #{index} of the CAR has section length 0");
        if (length > MaxBlockBytes + MaxCidBytes)
            BundleThrow.Throw(BundleError.BlockTooLarge, $"block #{index} of the CAR says it is {length} bytes; the limit is 2 MiB");
        CheckLimit(length.Value);
        int size = (int)length.Value;
        await FillAsync(size, $"block #{index}", cancellationToken).ConfigureAwait(false);
        Cid cid = ParseSection(_buffer.AsSpan(0, size), index, out int cidLength, deferRaw);
        BlocksVerified++;
        return new CarBlock(cid, _buffer.AsMemory(cidLength, size - cidLength));
    }

    public ValueTask DisposeAsync() => _reader.CompleteAsync();

    /// <summary>
    /// Gives the caller the array that holds the last block (its <see cref="CarBlock.Data"/> stays valid: the array is
    /// the caller's now) and reads on into <paramref name="replacement"/>. This lets a block be written to disk while
    /// the next one is read and verified, without copying it.
    /// </summary>
    internal byte[] SwapBuffer(byte[] replacement)
    {
        ArgumentNullException.ThrowIfNull(replacement);
        byte[] taken = _buffer;
        _buffer = replacement;
        return taken;
    }

    /// <summary>Reads a section's CID and checks the block that follows against it. A pure function of the section.</summary>
    internal static Cid ParseSection(ReadOnlySpan<byte> section, int index, out int cidLength, bool deferRaw = false)
    {
        if (!Cid.TryRead(section, out Cid? cid, out cidLength, out CidProblem problem))
        {
            if (problem.Error == BundleError.UnsupportedAddress)
                BundleThrow.Throw(BundleError.UnsupportedAddress, $"block #{index} of the CAR: {problem.Message}");
            string detail = problem.Truncated ? "its section ends inside its CID" : problem.Message;
            BundleThrow.Throw(BundleError.CarMalformed, $"block #{index} of the CAR is malformed: {detail}");
        }

        ReadOnlySpan<byte> data = section[cidLength..];
        if (data.Length > MaxBlockBytes)
            BundleThrow.Throw(BundleError.BlockTooLarge, $"block {cid} is {data.Length} bytes; the limit is 2 MiB");
        if (!(deferRaw && cid.Codec == CidCodec.Raw) && !cid.Verifies(data))
            BundleThrow.Throw(BundleError.BlockHashMismatch, $"block {cid} (#{index} in the CAR, {data.Length} bytes) does not hash to its CID; the gateway sent corrupt or forged data; fetch from another gateway");
        return cid;
    }

    private void CheckLimit(ulong length)
    {
        if ((ulong)BytesRead + length > (ulong)_maxBytes)
            BundleThrow.Throw(BundleError.TooLarge, $"the CAR stream is over its limit of {_maxBytes} bytes; raise the limit if the bundle is really that big");
    }

    /// <summary>Reads a section's varint length; null when the stream ends cleanly before it.</summary>
    private async ValueTask<ulong?> ReadLengthAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            ReadResult result = await _reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            ReadOnlySequence<byte> buffer = result.Buffer;
            if (buffer.IsEmpty && result.IsCompleted)
                return null;
            switch (TryReadVarint(buffer, out ulong value, out int used))
            {
                case VarintStatus.Done:
                    _reader.AdvanceTo(buffer.GetPosition(used));
                    BytesRead += used;
                    return value;
                case VarintStatus.Malformed:
                    _reader.AdvanceTo(buffer.Start);
                    return BundleThrow.Throw<ulong?>(BundleError.CarMalformed, $"a section length at byte {BytesRead} of the CAR is not a valid varint (over 9 bytes or not in shortest form)");
            }

            _reader.AdvanceTo(buffer.Start, buffer.End);
            if (result.IsCompleted)
                BundleThrow.Throw(BundleError.Truncated, $"the CAR stream ended inside a section length at byte {BytesRead}; the download was cut short; retry the fetch");
        }
    }

    private static VarintStatus TryReadVarint(ReadOnlySequence<byte> buffer, out ulong value, out int used)
    {
        ReadOnlySpan<byte> first = buffer.FirstSpan;
        if (first.Length >= Varint.MaxBytes || buffer.IsSingleSegment)
            return Varint.TryRead(first, out value, out used);
        Span<byte> head = stackalloc byte[Varint.MaxBytes];
        int length = (int)Math.Min(buffer.Length, Varint.MaxBytes);
        buffer.Slice(0, length).CopyTo(head);
        return Varint.TryRead(head[..length], out value, out used);
    }

    /// <summary>Reads exactly <paramref name="count"/> bytes into the start of the reusable buffer.</summary>
    private async ValueTask FillAsync(int count, string what, CancellationToken cancellationToken)
    {
        if (_buffer.Length < count)
            _buffer = new byte[Math.Max(count, Math.Min(_buffer.Length * 2, MaxBlockBytes + MaxCidBytes))];
        int filled = 0;
        while (filled < count)
        {
            ReadResult result = await _reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            ReadOnlySequence<byte> buffer = result.Buffer;
            int take = (int)Math.Min(buffer.Length, count - filled);
            buffer.Slice(0, take).CopyTo(_buffer.AsSpan(filled));
            filled += take;
            BytesRead += take;
            _reader.AdvanceTo(buffer.GetPosition(take));
            if (filled < count && result.IsCompleted)
                BundleThrow.Throw(BundleError.Truncated, $"the CAR stream ended inside {what} ({filled} of {count} bytes came); the download was cut short; retry the fetch");
        }
    }
}
