using System.Buffers;
using System.Buffers.Text;

namespace InfraMind.Node.Containers.Engine;

/// <summary>
/// Incremental decoder of an HTTP/1.1 chunked body. Fed whatever bytes have arrived, it returns the payload
/// pieces found and how far it consumed, so a chunk split across reads at any byte works.
/// </summary>
public struct ChunkedDecoder
{
    private const int MaxSizeLine = 1024;

    private long _remaining;
    private State _state;

    private enum State
    {
        Size,
        Data,
        DataEnd,
        Trailers,
        Done,
    }

    public readonly bool IsComplete => _state == State.Done;

    /// <summary>
    /// Decodes from <paramref name="input"/>, handing each payload piece to <paramref name="onData"/>.
    /// Returns the position up to which the input was used; the rest must be offered again with more bytes.
    /// </summary>
    public SequencePosition Decode(ReadOnlySequence<byte> input, Action<ReadOnlySequence<byte>> onData)
    {
        var reader = new SequenceReader<byte>(input);
        while (!reader.End && _state != State.Done)
        {
            switch (_state)
            {
                case State.Size:
                    if (!reader.TryReadTo(out ReadOnlySequence<byte> sizeLine, "\r\n"u8))
                    {
                        if (reader.Remaining > MaxSizeLine)
                            Fail("a chunk-size line is over 1 KiB");
                        return reader.Position;
                    }

                    _remaining = ParseSize(sizeLine);
                    _state = _remaining == 0 ? State.Trailers : State.Data;
                    break;

                case State.Data:
                    long take = Math.Min(_remaining, reader.Remaining);
                    onData(reader.UnreadSequence.Slice(0, take));
                    reader.Advance(take);
                    _remaining -= take;
                    if (_remaining == 0)
                        _state = State.DataEnd;
                    break;

                case State.DataEnd:
                    if (reader.Remaining < 2)
                        return reader.Position;
                    if (!reader.IsNext("\r\n"u8, advancePast: true))
                        Fail("a chunk does not end with CRLF");
                    _state = State.Size;
                    break;

                case State.Trailers:
                    if (!reader.TryReadTo(out ReadOnlySequence<byte> trailer, "\r\n"u8))
                    {
                        if (reader.Remaining > MaxSizeLine)
                            Fail("a trailer line is over 1 KiB");
                        return reader.Position;
                    }

                    if (trailer.IsEmpty)
                        _state = State.Done;
                    break;
            }
        }

        return reader.Position;
    }

    private static long ParseSize(ReadOnlySequence<byte> line)
    {
        ReadOnlySpan<byte> span = line.IsSingleSegment ? line.FirstSpan : line.ToArray();
        int extension = span.IndexOf((byte)';');
        if (extension >= 0)
            span = span[..extension];
        span = span.TrimEnd((byte)' ');
        long size = 0;
        if (span.IsEmpty || span.Length > 15 || !Utf8Parser.TryParse(span, out size, out int used, 'x') || used != span.Length)
            Fail("a chunk size is not hexadecimal");
        return size;
    }

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private static void Fail(string what) =>
        throw new EngineException(EngineError.Protocol, $"the engine sent a malformed chunked body: {what}");
}
