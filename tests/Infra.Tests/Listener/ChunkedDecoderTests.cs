using System.Buffers;
using System.Text;
using InfraMind.Node.Listener.Http;

namespace InfraMind.Node.Tests.Listener;

public class ChunkedDecoderTests
{
    private static readonly string[] ValidBodies =
    [
        "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
        "A;name=value;x=\"q\"\r\n0123456789\r\n0\r\nTrailer: t\r\nOther: u\r\n\r\n",
        "1 \t;ext\r\nx\r\n00\r\n\r\n",
        "0\r\n\r\n",
    ];

    private static readonly string[] Expected = ["hello world", "0123456789", "x", ""];

    /// <summary>Decodes as a connection would: feeding the unread rest after each call, one sequence at a time.</summary>
    private static (ChunkStatus Status, HttpParseError Error, string Data, long Consumed) DecodeAll(ReadOnlySequence<byte> input, long maxBody = 1 << 20)
    {
        var decoder = new ChunkedBodyDecoder(maxBody);
        var data = new StringBuilder();
        long position = 0;
        while (true)
        {
            ChunkStatus status = decoder.Decode(input.Slice(position), out long consumed, out ReadOnlySequence<byte> piece, out HttpParseError error);
            position += consumed;
            if (status == ChunkStatus.Data)
            {
                data.Append(Encoding.Latin1.GetString(piece.ToArray()));
                continue;
            }

            return (status, error, data.ToString(), position);
        }
    }

    [Fact]
    public void Valid_bodies_decode_with_extensions_and_trailers()
    {
        for (int i = 0; i < ValidBodies.Length; i++)
        {
            var (status, error, data, consumed) = DecodeAll(new ReadOnlySequence<byte>(Encoding.Latin1.GetBytes(ValidBodies[i] + "NEXT")));
            Assert.Equal(ChunkStatus.Done, status);
            Assert.Equal(HttpParseError.None, error);
            Assert.Equal(Expected[i], data);
            Assert.Equal(ValidBodies[i].Length, consumed); // stops exactly at the end: the next request is untouched
        }
    }

    [Fact]
    public void Every_prefix_needs_more_and_never_fails()
    {
        foreach (string body in ValidBodies)
        {
            for (int n = 0; n < body.Length; n++)
            {
                var (status, error, _, _) = DecodeAll(new ReadOnlySequence<byte>(Encoding.Latin1.GetBytes(body[..n])));
                Assert.True(status == ChunkStatus.NeedMore, $"prefix {n} of {body.ReplaceLineEndings("|")}: {status} {error}");
            }
        }
    }

    [Fact]
    public void Every_two_way_split_decodes_identically()
    {
        for (int i = 0; i < ValidBodies.Length; i++)
        {
            byte[] bytes = Encoding.Latin1.GetBytes(ValidBodies[i]);
            for (int split = 1; split < bytes.Length; split++)
            {
                var result = DecodeAll(Segments.Of(bytes[..split], bytes[split..]));
                Assert.Equal((ChunkStatus.Done, HttpParseError.None, Expected[i], (long)bytes.Length), result);
            }
        }
    }

    [Fact]
    public void Incremental_feeding_byte_by_byte_decodes_the_same()
    {
        // As on a slow socket: the decoder sees a growing buffer and resumes where it stopped.
        byte[] bytes = Encoding.Latin1.GetBytes(ValidBodies[1]);
        var decoder = new ChunkedBodyDecoder(1 << 20);
        var data = new StringBuilder();
        long position = 0;
        ChunkStatus status = ChunkStatus.NeedMore;
        for (int available = 1; available <= bytes.Length && status != ChunkStatus.Done; available++)
        {
            while (true)
            {
                status = decoder.Decode(new ReadOnlySequence<byte>(bytes, (int)position, available - (int)position), out long consumed, out var piece, out _);
                position += consumed;
                if (status != ChunkStatus.Data)
                    break;
                data.Append(Encoding.Latin1.GetString(piece.ToArray()));
            }

            Assert.NotEqual(ChunkStatus.Error, status);
        }

        Assert.Equal(ChunkStatus.Done, status);
        Assert.Equal("0123456789", data.ToString());
    }

    [Theory]
    [InlineData("z\r\n", HttpParseError.BadChunkSize)]
    [InlineData("\r\n", HttpParseError.BadChunkSize)]
    [InlineData("-5\r\nhello\r\n", HttpParseError.BadChunkSize)]
    [InlineData("5x\r\nhello\r\n", HttpParseError.BadChunkSize)]
    [InlineData("0x5\r\nhello\r\n", HttpParseError.BadChunkSize)]
    [InlineData("ffffffffffffffffff\r\n", HttpParseError.BadChunkSize)]
    [InlineData("8000000000000000\r\n", HttpParseError.BadChunkSize)]
    [InlineData("7fffffffffffffff\r\n", HttpParseError.ChunkTooLarge)]
    [InlineData("5\nhello\r\n", HttpParseError.LoneLineFeed)]
    [InlineData("5\r\nhelloXY0\r\n\r\n", HttpParseError.BadChunkTerminator)]
    [InlineData("5\r\nhello\n0\r\n\r\n", HttpParseError.BadChunkTerminator)]
    [InlineData("5;a\u0001b\r\nhello\r\n", HttpParseError.ControlCharacter)]
    [InlineData("0\r\nTrailer: t\n\r\n", HttpParseError.LoneLineFeed)]
    public void Broken_encodings_are_refused(string body, HttpParseError expected)
    {
        var (status, error, _, _) = DecodeAll(new ReadOnlySequence<byte>(Encoding.Latin1.GetBytes(body)), maxBody: 1 << 20);
        Assert.Equal(ChunkStatus.Error, status);
        Assert.Equal(expected, error);
    }

    [Fact]
    public void Limits_on_body_extension_and_trailers()
    {
        Assert.Equal(HttpParseError.BodyTooLarge, DecodeAll(new ReadOnlySequence<byte>(Encoding.Latin1.GetBytes("6\r\nabcdef\r\n6\r\nabcdef\r\n")), maxBody: 10).Error);
        Assert.Equal(HttpParseError.ChunkTooLarge, DecodeAll(new ReadOnlySequence<byte>(Encoding.Latin1.GetBytes("b\r\n")), maxBody: 10).Error);
        string longExt = "1;" + new string('e', ChunkedBodyDecoder.MaxSizeLine);
        Assert.Equal(HttpParseError.ChunkExtensionTooLong, DecodeAll(new ReadOnlySequence<byte>(Encoding.Latin1.GetBytes(longExt))).Error);
        string trailers = "0\r\n" + string.Concat(Enumerable.Repeat("T: " + new string('t', 1000) + "\r\n", 20));
        Assert.Equal(HttpParseError.TrailersTooLarge, DecodeAll(new ReadOnlySequence<byte>(Encoding.Latin1.GetBytes(trailers))).Error);
    }
}
