using System.Buffers;
using System.Text.Json;

namespace InfraMind.Node.Containers.Engine;

/// <summary>
/// Splits the engine's streamed JSON answers (/images/load, /events) into whole messages. The engine writes
/// one JSON object after another, separated by whitespace or nothing, split across chunks anywhere; each
/// complete object is deserialized once, through the source-generated context.
/// </summary>
public sealed class JsonMessageSplitter
{
    /// <summary>One message larger than this is refused: the engine's are well under 4 KiB.</summary>
    public const int MaxMessageBytes = 1 << 20;

    private readonly ArrayBufferWriter<byte> _pending = new(4096);

    public void Feed(ReadOnlySequence<byte> data, Action<EngineMessage> onMessage)
    {
        foreach (ReadOnlyMemory<byte> segment in data)
            _pending.Write(segment.Span);

        int start = 0;
        ReadOnlySpan<byte> buffer = _pending.WrittenSpan;
        while (true)
        {
            ReadOnlySpan<byte> rest = buffer[start..];
            int skip = 0;
            while (skip < rest.Length && rest[skip] is (byte)' ' or (byte)'\r' or (byte)'\n' or (byte)'\t')
                skip++;
            rest = rest[skip..];
            start += skip;
            if (rest.IsEmpty)
                break;
            if (rest[0] != (byte)'{')
                throw new EngineException(EngineError.Protocol, "the engine's message stream holds something other than JSON objects");

            var reader = new Utf8JsonReader(rest, isFinalBlock: false, state: default);
            int length;
            try
            {
                if (!reader.Read() || !reader.TrySkip())
                {
                    if (rest.Length > MaxMessageBytes)
                        throw new EngineException(EngineError.Protocol, "a message in the engine's stream is over 1 MiB");
                    break; // incomplete: wait for more bytes
                }

                length = (int)reader.BytesConsumed;
            }
            catch (JsonException e)
            {
                throw new EngineException(EngineError.Protocol, $"the engine's message stream is not valid JSON: {e.Message}", inner: e);
            }

            EngineMessage? message;
            try
            {
                message = JsonSerializer.Deserialize(rest[..length], EngineJson.Default.EngineMessage);
            }
            catch (JsonException e)
            {
                throw new EngineException(EngineError.Protocol, $"the engine sent a message of an unexpected shape: {e.Message}", inner: e);
            }

            if (message is not null)
                onMessage(message);
            start += length;
        }

        // Keep only the unfinished tail.
        if (start > 0)
        {
            byte[] tail = buffer[start..].ToArray();
            _pending.ResetWrittenCount();
            _pending.Write(tail);
        }
    }

    /// <summary>True when no partial message is waiting: a stream that ends now ended cleanly.</summary>
    public bool IsEmpty => _pending.WrittenSpan.Trim("\r\n \t"u8).IsEmpty;
}
