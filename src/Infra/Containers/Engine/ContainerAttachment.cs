using System.Buffers;
using System.IO.Pipelines;

namespace InfraMind.Node.Containers.Engine;

/// <summary>
/// A container's stdin, stdout and stderr over an upgraded attach connection. Write the input, half-close,
/// then read the output until the engine closes the stream.
/// </summary>
public sealed class ContainerAttachment : IAsyncDisposable
{
    private readonly HttpConnection _connection;

    internal ContainerAttachment(HttpConnection connection)
    {
        _connection = connection;
    }

    /// <summary>Writes <paramref name="input"/> to the container's stdin and closes it (the container sees EOF).</summary>
    public async Task WriteInputAndCloseAsync(ReadOnlyMemory<byte> input, CancellationToken cancellationToken)
    {
        PipeWriter writer = _connection.Writer;
        while (!input.IsEmpty)
        {
            int take = Math.Min(input.Length, 64 * 1024);
            FlushResult result = await writer.WriteAsync(input[..take], cancellationToken).ConfigureAwait(false);
            input = input[take..];
            if (result.IsCompleted)
                break;
        }

        await _connection.CompleteSendingAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// Reads the multiplexed output until the container closes it, into the two capped buffers.
    /// A stream that ends inside a frame is a protocol error.
    /// </summary>
    public async Task ReadOutputAsync(CappedBuffer stdout, CappedBuffer stderr, CancellationToken cancellationToken)
    {
        var demuxer = new OutputDemuxer();
        var sink = new CappedOutputSink(stdout, stderr);
        PipeReader reader = _connection.Reader;
        while (true)
        {
            ReadResult result = await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            ReadOnlySequence<byte> buffer = result.Buffer;
            demuxer.Feed(buffer, sink);
            reader.AdvanceTo(buffer.End);
            if (result.IsCompleted)
                break;
        }

        if (!demuxer.AtFrameBoundary)
            throw new EngineException(EngineError.Protocol, "the container's output stream ended in the middle of a frame");
    }

    public ValueTask DisposeAsync() => _connection.DisposeAsync();
}
