using System.Buffers;
using System.Text;
using InfraMind.Node.Containers.Engine;

namespace InfraMind.Node.Tests.Containers;

/// <summary>
/// The engine client's protocol parsers as pure functions of bytes: every prefix, every two-way split,
/// and malformed, truncated, oversized and hostile input.
/// </summary>
public class EngineProtocolTests
{
    private const string ChunkedHead = "HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";

    [Fact]
    public void A_response_head_parses_only_once_complete_at_every_prefix()
    {
        byte[] head = Encoding.ASCII.GetBytes(ChunkedHead + "5\r\nhello\r\n");
        int headLength = ChunkedHead.Length;
        for (int length = 0; length <= head.Length; length++)
        {
            bool parsed = HttpResponseHead.TryParse(new ReadOnlySequence<byte>(head, 0, length), out HttpResponseHead result, out SequencePosition consumed);
            Assert.Equal(length >= headLength, parsed);
            if (parsed)
            {
                Assert.Equal(200, result.Status);
                Assert.Equal(BodyFraming.Chunked, result.Framing);
                Assert.True(result.KeepAlive);
                Assert.Equal("application/json", result.ContentType);
                Assert.Equal(headLength, new ReadOnlySequence<byte>(head, 0, length).Slice(0, consumed).Length);
            }
        }
    }

    [Fact]
    public void A_response_head_parses_across_any_two_segments()
    {
        byte[] head = Encoding.ASCII.GetBytes("HTTP/1.1 201 Created\r\nContent-Length: 12\r\n\r\n");
        for (int split = 0; split <= head.Length; split++)
        {
            Assert.True(HttpResponseHead.TryParse(Split(head, split), out HttpResponseHead result, out _), $"split {split}");
            Assert.Equal(201, result.Status);
            Assert.Equal(BodyFraming.ContentLength, result.Framing);
            Assert.Equal(12, result.ContentLength);
        }
    }

    [Theory]
    [InlineData("HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n", 101, BodyFraming.Upgraded, false)]
    [InlineData("HTTP/1.1 204 No Content\r\n\r\n", 204, BodyFraming.None, true)]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 200, BodyFraming.None, true)]
    [InlineData("HTTP/1.0 200 OK\r\n\r\n", 200, BodyFraming.UntilClose, false)]
    [InlineData("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n", 200, BodyFraming.ContentLength, false)]
    [InlineData("HTTP/1.1 404 Not Found\r\ncontent-length: 30\r\n\r\n", 404, BodyFraming.ContentLength, true)]
    public void Framing_and_keep_alive_follow_the_head(string head, int status, BodyFraming framing, bool keepAlive)
    {
        Assert.True(HttpResponseHead.TryParse(new ReadOnlySequence<byte>(Encoding.ASCII.GetBytes(head)), out HttpResponseHead result, out _));
        Assert.Equal(status, result.Status);
        Assert.Equal(framing, result.Framing);
        Assert.Equal(keepAlive, result.KeepAlive);
    }

    [Theory]
    [InlineData("SSH-2.0-OpenSSH\r\n\r\n")]
    [InlineData("HTTP/2 200\r\n\r\n")]
    [InlineData("HTTP/1.1 2OO OK\r\n\r\n")]
    [InlineData("HTTP/1.1 099 Low\r\n\r\n")]
    [InlineData("HTTP/1.1 2000 OK\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nNoColonHere\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\n: empty-name\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 12abc\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n")]
    public void Malformed_heads_are_protocol_errors(string head)
    {
        var error = Assert.Throws<EngineException>(() => HttpResponseHead.TryParse(new ReadOnlySequence<byte>(Encoding.ASCII.GetBytes(head)), out _, out _));
        Assert.Equal(EngineError.Protocol, error.Error);
    }

    [Fact]
    public void Oversized_heads_and_header_floods_are_refused_without_waiting_for_more()
    {
        byte[] endless = Encoding.ASCII.GetBytes("HTTP/1.1 200 OK\r\nX-Big: " + new string('a', 20_000));
        Assert.Throws<EngineException>(() => HttpResponseHead.TryParse(new ReadOnlySequence<byte>(endless), out _, out _));

        byte[] noLineEnd = Encoding.ASCII.GetBytes("HTTP/1.1 200 " + new string('a', 20_000));
        Assert.Throws<EngineException>(() => HttpResponseHead.TryParse(new ReadOnlySequence<byte>(noLineEnd), out _, out _));

        string many = "HTTP/1.1 200 OK\r\n" + string.Concat(Enumerable.Range(0, 100).Select(i => $"X-{i}: v\r\n")) + "\r\n";
        Assert.Throws<EngineException>(() => HttpResponseHead.TryParse(new ReadOnlySequence<byte>(Encoding.ASCII.GetBytes(many)), out _, out _));
    }

    [Fact]
    public void Chunked_bodies_decode_identically_across_every_split()
    {
        byte[] body = Encoding.ASCII.GetBytes("5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nTrailer: x\r\n\r\nNEXT");
        for (int split = 0; split <= body.Length; split++)
        {
            var decoder = new ChunkedDecoder();
            var output = new List<byte>();
            ReadOnlySequence<byte> first = new(body, 0, split);
            SequencePosition used = decoder.Decode(first, piece => output.AddRange(piece.ToArray()));
            int consumed = (int)first.Slice(0, used).Length;
            ReadOnlySequence<byte> rest = new(body, consumed, body.Length - consumed);
            SequencePosition usedRest = decoder.Decode(rest, piece => output.AddRange(piece.ToArray()));
            Assert.True(decoder.IsComplete, $"split {split}");
            Assert.Equal("hello, world", Encoding.ASCII.GetString(output.ToArray()));
            Assert.Equal("NEXT", Encoding.ASCII.GetString(rest.Slice(usedRest).ToArray()));
        }
    }

    [Theory]
    [InlineData("zz\r\nhello\r\n0\r\n\r\n")]
    [InlineData("-5\r\nhello\r\n0\r\n\r\n")]
    [InlineData("\r\nhello\r\n0\r\n\r\n")]
    [InlineData("5\r\nhelloXX0\r\n\r\n")]
    [InlineData("ffffffffffffffffff\r\n")]
    public void Malformed_chunked_bodies_are_protocol_errors(string body)
    {
        var decoder = new ChunkedDecoder();
        Assert.Throws<EngineException>(() => decoder.Decode(new ReadOnlySequence<byte>(Encoding.ASCII.GetBytes(body)), _ => { }));
    }

    [Fact]
    public void An_endless_chunk_size_line_is_refused()
    {
        var decoder = new ChunkedDecoder();
        Assert.Throws<EngineException>(() => decoder.Decode(new ReadOnlySequence<byte>(Encoding.ASCII.GetBytes(new string('1', 5000))), _ => { }));
    }

    [Fact]
    public void Output_frames_demultiplex_across_every_split()
    {
        byte[] stream = [.. Frame(1, "out-1 "), .. Frame(2, "err"), .. Frame(1, ""), .. Frame(1, "out-2")];
        for (int split = 0; split <= stream.Length; split++)
        {
            var demuxer = new OutputDemuxer();
            var stdout = new CappedBuffer(64);
            var stderr = new CappedBuffer(64);
            var sink = new CappedOutputSink(stdout, stderr);
            demuxer.Feed(new ReadOnlySequence<byte>(stream, 0, split), sink);
            demuxer.Feed(new ReadOnlySequence<byte>(stream, split, stream.Length - split), sink);
            Assert.Equal("out-1 out-2", Encoding.ASCII.GetString(stdout.WrittenSpan));
            Assert.Equal("err", Encoding.ASCII.GetString(stderr.WrittenSpan));
            Assert.True(demuxer.AtFrameBoundary);
        }
    }

    [Fact]
    public void A_stream_cut_inside_a_frame_is_noticed_and_bad_headers_are_refused()
    {
        byte[] frame = Frame(1, "payload");
        for (int length = 1; length < frame.Length; length++)
        {
            var demuxer = new OutputDemuxer();
            demuxer.Feed(new ReadOnlySequence<byte>(frame, 0, length), Discard);
            Assert.False(demuxer.AtFrameBoundary, $"cut at {length}");
        }

        var bad = new OutputDemuxer();
        Assert.Throws<EngineException>(() => bad.Feed(new ReadOnlySequence<byte>([7, 0, 0, 0, 0, 0, 0, 1, 65]), Discard));
        var padding = new OutputDemuxer();
        Assert.Throws<EngineException>(() => padding.Feed(new ReadOnlySequence<byte>([1, 9, 0, 0, 0, 0, 0, 1, 65]), Discard));
    }

    [Fact]
    public void Streamed_json_messages_split_anywhere_come_out_whole()
    {
        byte[] stream = Encoding.UTF8.GetBytes("{\"stream\":\"Loaded image: a:1\\n\"}\r\n{\"status\":\"x\",\"id\":\"1\"}{\"errorDetail\":{\"message\":\"broken\"},\"error\":\"broken\"}\n");
        for (int split = 0; split <= stream.Length; split++)
        {
            var splitter = new JsonMessageSplitter();
            var messages = new List<EngineMessage>();
            splitter.Feed(new ReadOnlySequence<byte>(stream, 0, split), messages.Add);
            splitter.Feed(new ReadOnlySequence<byte>(stream, split, stream.Length - split), messages.Add);
            Assert.Equal(3, messages.Count);
            Assert.Equal("Loaded image: a:1\n", messages[0].Stream);
            Assert.Equal("1", messages[1].Id);
            Assert.Equal("broken", messages[2].ErrorDetail!.Message);
            Assert.True(splitter.IsEmpty);
        }
    }

    [Theory]
    [InlineData("[1,2,3]")]
    [InlineData("not json")]
    [InlineData("{\"stream\": tru}")]
    [InlineData("{\"time\": \"not a number\"}")]
    public void Garbage_in_a_message_stream_is_a_protocol_error(string text)
    {
        var splitter = new JsonMessageSplitter();
        var error = Assert.Throws<EngineException>(() => splitter.Feed(new ReadOnlySequence<byte>(Encoding.UTF8.GetBytes(text)), _ => { }));
        Assert.Equal(EngineError.Protocol, error.Error);
    }

    [Fact]
    public void A_truncated_message_is_left_pending_and_an_endless_one_is_refused()
    {
        var splitter = new JsonMessageSplitter();
        splitter.Feed(new ReadOnlySequence<byte>(Encoding.UTF8.GetBytes("{\"stream\":\"part")), _ => Assert.Fail("no message yet"));
        Assert.False(splitter.IsEmpty);

        var endless = new JsonMessageSplitter();
        byte[] huge = Encoding.UTF8.GetBytes("{\"stream\":\"" + new string('a', JsonMessageSplitter.MaxMessageBytes + 10));
        Assert.Throws<EngineException>(() => endless.Feed(new ReadOnlySequence<byte>(huge), _ => { }));
    }

    private static byte[] Frame(byte stream, string payload)
    {
        byte[] data = Encoding.ASCII.GetBytes(payload);
        byte[] frame = new byte[8 + data.Length];
        frame[0] = stream;
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(4), (uint)data.Length);
        data.CopyTo(frame, 8);
        return frame;
    }

    private static ReadOnlySequence<byte> Split(byte[] data, int at)
    {
        var first = new Segment(data.AsMemory(0, at));
        Segment last = first.Append(data.AsMemory(at));
        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    private static DiscardSink Discard => default;

    private readonly struct DiscardSink : IOutputSink
    {
        public void Write(OutputChannel channel, ReadOnlySequence<byte> payload)
        {
        }
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory) => Memory = memory;

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory) { RunningIndex = RunningIndex + Memory.Length };
            Next = next;
            return next;
        }
    }
}
