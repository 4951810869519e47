using System.Buffers;

namespace InfraMind.Node.Listener.Http;

/// <summary>Outcome of one <see cref="ChunkedBodyDecoder.Decode"/> call.</summary>
public enum ChunkStatus
{
    /// <summary>Payload bytes were found (possibly part of a chunk).</summary>
    Data,

    /// <summary>No payload in the bytes offered; advance by the consumed count and offer more.</summary>
    NeedMore,

    /// <summary>The last chunk and the trailers were read; the body is over.</summary>
    Done,

    /// <summary>The encoding is broken; the error says how.</summary>
    Error,
}

/// <summary>
/// Pure, incremental decoder of a chunked request body. Chunk extensions are tolerated and ignored, trailers are
/// skipped, sizes that overflow or pass the body limit are refused. Feed it the unread bytes; each call returns at
/// most one run of payload and says how many input bytes it used.
/// </summary>
public struct ChunkedBodyDecoder
{
    /// <summary>A chunk-size line, extensions included, longer than this is refused.</summary>
    public const int MaxSizeLine = 4096;

    /// <summary>All trailer lines together longer than this are refused.</summary>
    public const int MaxTrailerBytes = 16 * 1024;

    private readonly long _maxBody;
    private State _state;
    private long _remaining;
    private long _total;
    private int _trailerBytes;

    public ChunkedBodyDecoder(long maxBody)
    {
        _maxBody = maxBody;
    }

    private enum State : byte
    {
        Size,
        Data,
        DataEnd,
        Trailers,
        Done,
    }

    public readonly bool IsDone => _state == State.Done;

    /// <summary>Payload bytes decoded so far.</summary>
    public readonly long Total => _total;

    public ChunkStatus Decode(in ReadOnlySequence<byte> input, out long consumed, out ReadOnlySequence<byte> data, out HttpParseError error)
    {
        data = default;
        error = HttpParseError.None;
        long position = 0;
        while (true)
        {
            ReadOnlySequence<byte> rest = input.Slice(position);
            switch (_state)
            {
                case State.Size:
                {
                    ReadOnlySequence<byte> window = rest.Length > MaxSizeLine ? rest.Slice(0, MaxSizeLine) : rest;
                    SequencePosition? lf = window.PositionOf((byte)'\n');
                    if (lf is null)
                    {
                        consumed = position;
                        if (rest.Length >= MaxSizeLine)
                            return Fail(HttpParseError.ChunkExtensionTooLong, out error);
                        // A size line must start with a hex digit; refuse garbage without waiting for a line end.
                        if (!rest.IsEmpty && HexValue(rest.FirstSpan[0]) < 0)
                            return Fail(HttpParseError.BadChunkSize, out error);
                        return ChunkStatus.NeedMore;
                    }

                    int length = (int)window.Slice(0, lf.Value).Length;
                    error = ParseSizeLine(window.Slice(0, length), out long size);
                    if (error != HttpParseError.None)
                    {
                        consumed = position;
                        return ChunkStatus.Error;
                    }

                    if (size > _maxBody)
                    {
                        consumed = position;
                        return Fail(HttpParseError.ChunkTooLarge, out error);
                    }

                    if (_total + size > _maxBody)
                    {
                        consumed = position;
                        return Fail(HttpParseError.BodyTooLarge, out error);
                    }

                    position += length + 1;
                    _remaining = size;
                    _state = size == 0 ? State.Trailers : State.Data;
                    break;
                }

                case State.Data:
                {
                    long take = Math.Min(_remaining, rest.Length);
                    if (take == 0)
                    {
                        consumed = position;
                        return ChunkStatus.NeedMore;
                    }

                    data = rest.Slice(0, take);
                    _remaining -= take;
                    _total += take;
                    if (_remaining == 0)
                        _state = State.DataEnd;
                    consumed = position + take;
                    return ChunkStatus.Data;
                }

                case State.DataEnd:
                {
                    if (rest.Length < 2)
                    {
                        consumed = position;
                        if (!rest.IsEmpty && rest.FirstSpan[0] != (byte)'\r')
                            return Fail(HttpParseError.BadChunkTerminator, out error);
                        return ChunkStatus.NeedMore;
                    }

                    if (!StartsWithCrLf(rest))
                    {
                        consumed = position;
                        return Fail(HttpParseError.BadChunkTerminator, out error);
                    }

                    position += 2;
                    _state = State.Size;
                    break;
                }

                case State.Trailers:
                {
                    int budget = MaxTrailerBytes - _trailerBytes;
                    ReadOnlySequence<byte> window = rest.Length > budget ? rest.Slice(0, budget) : rest;
                    SequencePosition? lf = window.PositionOf((byte)'\n');
                    if (lf is null)
                    {
                        consumed = position;
                        return rest.Length >= budget ? Fail(HttpParseError.TrailersTooLarge, out error) : ChunkStatus.NeedMore;
                    }

                    int length = (int)window.Slice(0, lf.Value).Length;
                    if (length == 0 || !EndsWithCr(window.Slice(0, length)))
                    {
                        consumed = position;
                        return Fail(HttpParseError.LoneLineFeed, out error);
                    }

                    position += length + 1;
                    _trailerBytes += length + 1;
                    if (length == 1)
                    {
                        _state = State.Done;
                        consumed = position;
                        return ChunkStatus.Done;
                    }

                    break;
                }

                default:
                    consumed = position;
                    return ChunkStatus.Done;
            }
        }
    }

    private static ChunkStatus Fail(HttpParseError reason, out HttpParseError error)
    {
        error = reason;
        return ChunkStatus.Error;
    }

    private static bool EndsWithCr(in ReadOnlySequence<byte> line) =>
        line.Slice(line.Length - 1).FirstSpan[0] == (byte)'\r';

    private static bool StartsWithCrLf(in ReadOnlySequence<byte> rest)
    {
        var reader = new SequenceReader<byte>(rest);
        return reader.IsNext("\r\n"u8);
    }

    private static HttpParseError ParseSizeLine(in ReadOnlySequence<byte> line, out long size)
    {
        if (line.IsSingleSegment)
            return ParseSizeLine(line.FirstSpan, out size);
        Span<byte> copy = stackalloc byte[MaxSizeLine];
        copy = copy[..(int)line.Length];
        line.CopyTo(copy);
        return ParseSizeLine(copy, out size);
    }

    /// <summary>chunk-size [BWS] [; ext...] CR, the LF already removed.</summary>
    private static HttpParseError ParseSizeLine(ReadOnlySpan<byte> line, out long size)
    {
        size = 0;
        if (line.IsEmpty || line[^1] != (byte)'\r')
            return line.IsEmpty ? HttpParseError.BadChunkSize : HttpParseError.LoneLineFeed;
        line = line[..^1];

        int i = 0;
        while (i < line.Length)
        {
            int digit = HexValue(line[i]);
            if (digit < 0)
                break;
            // 15 hex digits already exceed any body limit; more would overflow a long.
            if (size > (long.MaxValue >> 4))
                return HttpParseError.BadChunkSize;
            size = (size << 4) | (uint)digit;
            i++;
        }

        if (i == 0)
            return HttpParseError.BadChunkSize;

        while (i < line.Length && line[i] is (byte)' ' or (byte)'\t')
            i++;
        if (i == line.Length)
            return HttpParseError.None;
        if (line[i] != (byte)';')
            return HttpParseError.BadChunkSize;
        foreach (byte b in line[i..])
        {
            if ((b < 0x20 && b != (byte)'\t') || b == 0x7F)
                return HttpParseError.ControlCharacter;
        }

        return HttpParseError.None;
    }

    private static int HexValue(byte b) => b switch
    {
        >= (byte)'0' and <= (byte)'9' => b - '0',
        >= (byte)'a' and <= (byte)'f' => b - 'a' + 10,
        >= (byte)'A' and <= (byte)'F' => b - 'A' + 10,
        _ => -1,
    };
}
