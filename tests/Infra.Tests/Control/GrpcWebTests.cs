using System.Buffers;
using System.Text;
using Google.Protobuf;
using Grpc.Core;
using InfraMind.Node.Control;
using InfraMind.Node.Protos.Control;
using InfraMind.Node.Protos.Mesh;

namespace InfraMind.Node.Tests.Control;

public class GrpcWebTests
{
    private static byte[] Frame(byte flags, byte[] payload, uint? length = null)
    {
        var frame = new byte[5 + payload.Length];
        frame[0] = flags;
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), length ?? (uint)payload.Length);
        payload.CopyTo(frame, 5);
        return frame;
    }

    private static byte[] Encode(IMessage message)
    {
        var writer = new ArrayBufferWriter<byte>();
        GrpcWeb.WriteMessage(writer, message);
        return writer.WrittenSpan.ToArray();
    }

    [Fact]
    public void A_message_written_is_one_frame_with_a_big_endian_length_and_reads_back()
    {
        var request = new ListJobsRequest { Limit = 300, IncludeFinished = true };
        byte[] frame = Encode(request);
        Assert.Equal(0x00, frame[0]);
        Assert.Equal(request.CalculateSize(), (frame[1] << 24) | (frame[2] << 16) | (frame[3] << 8) | frame[4]);

        Assert.Equal(GrpcWebFrameError.None, GrpcWeb.TryReadUnaryRequest(new ReadOnlySequence<byte>(frame), GrpcWeb.MaxMessageBytes, out ReadOnlySequence<byte> message));
        Assert.Equal(request, ListJobsRequest.Parser.ParseFrom(message));
    }

    [Fact]
    public void An_empty_message_is_a_frame_of_length_zero()
    {
        byte[] frame = Encode(new GetStatusRequest());
        Assert.Equal(new byte[] { 0, 0, 0, 0, 0 }, frame);
        Assert.Equal(GrpcWebFrameError.None, GrpcWeb.TryReadUnaryRequest(new ReadOnlySequence<byte>(frame), 0, out ReadOnlySequence<byte> message));
        Assert.True(message.IsEmpty);
    }

    [Fact]
    public void Every_prefix_of_a_frame_is_incomplete_and_a_truncated_unary_body()
    {
        byte[] frame = Encode(new PruneCacheRequest { TargetBytes = 123456789 });
        for (int n = 0; n < frame.Length; n++)
        {
            var buffer = new ReadOnlySequence<byte>(frame, 0, n);
            Assert.Equal(GrpcWebReadResult.Incomplete, GrpcWeb.TryReadFrame(ref buffer, GrpcWeb.MaxMessageBytes, out _, out _));
            Assert.Equal(n, buffer.Length); // nothing consumed
            GrpcWebFrameError expected = n == 0 ? GrpcWebFrameError.MissingMessage : GrpcWebFrameError.Truncated;
            Assert.Equal(expected, GrpcWeb.TryReadUnaryRequest(new ReadOnlySequence<byte>(frame, 0, n), GrpcWeb.MaxMessageBytes, out _));
        }
    }

    [Fact]
    public void A_frame_split_across_segments_at_every_point_reads_the_same()
    {
        var request = new PruneCacheRequest { TargetBytes = 987654321 };
        byte[] frame = Encode(request);
        for (int split = 1; split < frame.Length; split++)
        {
            ReadOnlySequence<byte> body = Segments.Of(frame[..split], frame[split..]);
            Assert.Equal(GrpcWebFrameError.None, GrpcWeb.TryReadUnaryRequest(body, GrpcWeb.MaxMessageBytes, out ReadOnlySequence<byte> message));
            Assert.Equal(request, PruneCacheRequest.Parser.ParseFrom(message));
        }
    }

    [Fact]
    public void Several_frames_read_one_after_another_and_leave_the_rest()
    {
        byte[] a = Encode(new Ping { Nonce = 1 }), b = Encode(new Ping { Nonce = 2 });
        var buffer = new ReadOnlySequence<byte>([.. a, .. b, .. b[..3]]);
        Assert.Equal(GrpcWebReadResult.Frame, GrpcWeb.TryReadFrame(ref buffer, 100, out GrpcWebFrame first, out _));
        Assert.Equal(GrpcWebReadResult.Frame, GrpcWeb.TryReadFrame(ref buffer, 100, out GrpcWebFrame second, out _));
        Assert.Equal(1UL, Ping.Parser.ParseFrom(first.Payload).Nonce);
        Assert.Equal(2UL, Ping.Parser.ParseFrom(second.Payload).Nonce);
        Assert.Equal(GrpcWebReadResult.Incomplete, GrpcWeb.TryReadFrame(ref buffer, 100, out _, out _));
        Assert.Equal(3, buffer.Length);
    }

    [Theory]
    [InlineData(0x01, GrpcWebFrameError.Compressed, StatusCode.Unimplemented)]
    [InlineData(0x81, GrpcWebFrameError.Compressed, StatusCode.Unimplemented)]
    [InlineData(0x02, GrpcWebFrameError.ReservedFlags, StatusCode.InvalidArgument)]
    [InlineData(0x40, GrpcWebFrameError.ReservedFlags, StatusCode.InvalidArgument)]
    [InlineData(0xFE, GrpcWebFrameError.ReservedFlags, StatusCode.InvalidArgument)]
    [InlineData(0x80, GrpcWebFrameError.UnexpectedTrailer, StatusCode.InvalidArgument)]
    public void Bad_flag_bytes_are_refused_with_their_status(byte flags, GrpcWebFrameError error, StatusCode status)
    {
        byte[] frame = Frame(flags, [0x08, 0x01]);
        Assert.Equal(error, GrpcWeb.TryReadUnaryRequest(new ReadOnlySequence<byte>(frame), GrpcWeb.MaxMessageBytes, out _));
        Assert.Equal(status, GrpcWeb.ToStatus(error));
        Assert.NotEmpty(GrpcWeb.Describe(error));
    }

    [Theory]
    [InlineData(GrpcWeb.MaxMessageBytes + 1u)]
    [InlineData(0x7FFFFFFFu)]
    [InlineData(0xFFFFFFFFu)]
    public void A_hostile_length_is_refused_from_the_header_alone(uint length)
    {
        // Only the 5 header bytes are there: the reader must not wait for gigabytes that will never be allowed.
        var buffer = new ReadOnlySequence<byte>(Frame(0x00, [], length));
        Assert.Equal(GrpcWebReadResult.Invalid, GrpcWeb.TryReadFrame(ref buffer, GrpcWeb.MaxMessageBytes, out _, out GrpcWebFrameError error));
        Assert.Equal(GrpcWebFrameError.TooLarge, error);
        Assert.Equal(StatusCode.ResourceExhausted, GrpcWeb.ToStatus(error));
    }

    [Fact]
    public void A_message_exactly_at_the_limit_is_read_and_one_byte_over_is_not()
    {
        byte[] payload = new byte[1000];
        Assert.Equal(GrpcWebFrameError.None, GrpcWeb.TryReadUnaryRequest(new ReadOnlySequence<byte>(Frame(0, payload)), 1000, out _));
        Assert.Equal(GrpcWebFrameError.TooLarge, GrpcWeb.TryReadUnaryRequest(new ReadOnlySequence<byte>(Frame(0, [.. payload, 0])), 1000, out _));
    }

    [Fact]
    public void A_unary_body_with_a_second_frame_or_stray_bytes_is_refused()
    {
        byte[] frame = Encode(new ListJobsRequest { Limit = 1 });
        Assert.Equal(GrpcWebFrameError.TrailingData, GrpcWeb.TryReadUnaryRequest(new ReadOnlySequence<byte>([.. frame, .. frame]), 100, out _));
        Assert.Equal(GrpcWebFrameError.TrailingData, GrpcWeb.TryReadUnaryRequest(new ReadOnlySequence<byte>([.. frame, 0]), 100, out _));
        Assert.Equal(StatusCode.Internal, GrpcWeb.ToStatus(GrpcWebFrameError.TrailingData));
        Assert.Equal(StatusCode.Internal, GrpcWeb.ToStatus(GrpcWebFrameError.Truncated));
    }

    [Fact]
    public void Random_bodies_never_throw()
    {
        var random = new Random(5);
        for (int i = 0; i < 20_000; i++)
        {
            byte[] body = new byte[random.Next(0, 24)];
            random.NextBytes(body);
            GrpcWebFrameError error = GrpcWeb.TryReadUnaryRequest(new ReadOnlySequence<byte>(body), 64, out ReadOnlySequence<byte> message);
            if (error == GrpcWebFrameError.None)
                Assert.Equal(body.Length - 5, message.Length);
        }
    }

    [Fact]
    public void The_trailer_frame_carries_status_and_a_percent_encoded_message()
    {
        var writer = new ArrayBufferWriter<byte>();
        GrpcWeb.WriteTrailer(writer, StatusCode.FailedPrecondition, "50% done: café\r\ngrpc-status: 0");
        byte[] frame = writer.WrittenSpan.ToArray();
        Assert.Equal(0x80, frame[0]);
        string text = Encoding.ASCII.GetString(frame, 5, frame.Length - 5);
        // The CRLF inside the message is escaped: a message can never forge a second trailer line.
        Assert.Equal("grpc-status: 9\r\ngrpc-message: 50%25 done: caf%C3%A9%0D%0Agrpc-status: 0\r\n", text);

        var buffer = new ReadOnlySequence<byte>(frame);
        Assert.Equal(GrpcWebReadResult.Frame, GrpcWeb.TryReadFrame(ref buffer, 1000, out GrpcWebFrame trailer, out _));
        Assert.True(trailer.IsTrailer);
        Assert.True(GrpcWeb.TryParseTrailer(trailer.Payload, out StatusCode status, out string message));
        Assert.Equal(StatusCode.FailedPrecondition, status);
        Assert.Equal("50% done: café\r\ngrpc-status: 0", message);
    }

    [Fact]
    public void An_ok_trailer_has_no_message_line()
    {
        var writer = new ArrayBufferWriter<byte>();
        GrpcWeb.WriteTrailer(writer, StatusCode.OK);
        Assert.Equal("grpc-status: 0\r\n", Encoding.ASCII.GetString(writer.WrittenSpan[5..]));
    }

    [Theory]
    [InlineData("grpc-message: no status\r\n")]
    [InlineData("grpc-status: x\r\n")]
    [InlineData("grpc-status: 17\r\n")]
    [InlineData("grpc-status: -1\r\n")]
    [InlineData("grpc-status 0\r\n")]
    [InlineData(": 0\r\n")]
    [InlineData("")]
    public void Malformed_trailers_are_refused(string text)
    {
        Assert.False(GrpcWeb.TryParseTrailer(new ReadOnlySequence<byte>(Encoding.ASCII.GetBytes(text)), out _, out _));
    }

    [Fact]
    public void A_malformed_percent_escape_is_kept_as_text()
    {
        Assert.True(GrpcWeb.TryParseTrailer(new ReadOnlySequence<byte>("grpc-status: 2\r\ngrpc-message: 100%zz%4\r\nx-other: y\r\n"u8.ToArray()), out StatusCode status, out string message));
        Assert.Equal(StatusCode.Unknown, status);
        Assert.Equal("100%zz%4", message);
    }

    [Theory]
    [InlineData("application/grpc-web+proto", true)]
    [InlineData("application/grpc-web", true)]
    [InlineData("Application/GRPC-Web+Proto; charset=utf-8", true)]
    [InlineData("application/grpc-web-text", false)]
    [InlineData("application/grpc", false)]
    [InlineData("application/json", false)]
    [InlineData("", false)]
    public void Content_types(string contentType, bool accepted) =>
        Assert.Equal(accepted, GrpcWeb.IsGrpcWebContentType(contentType));

    [Fact]
    public void Capabilities_encode_deterministically_in_field_order()
    {
        // The Hello signature covers keccak256 of these bytes: equal messages built in any order must give equal bytes.
        var a = new Capabilities { CpuMillicores = 8000, MemoryBytes = 1 << 30, EngineName = "docker", EngineVersion = "20.10", CacheBytesFree = 5 };
        a.Gpus.Add(new Gpu { Name = "H100", Uuid = "GPU-1", MemoryBytes = 80, Driver = "550", ComputeCapability = "9.0" });
        var b = new Capabilities { CacheBytesFree = 5, EngineVersion = "20.10", EngineName = "docker" };
        b.Gpus.Add(new Gpu { ComputeCapability = "9.0", Driver = "550", MemoryBytes = 80, Uuid = "GPU-1", Name = "H100" });
        b.MemoryBytes = 1 << 30;
        b.CpuMillicores = 8000;
        byte[] bytes = a.ToByteArray();
        Assert.Equal(bytes, b.ToByteArray());
        Assert.Equal(bytes, Capabilities.Parser.ParseFrom(bytes).ToByteArray());
        // Field 1 (cpu_millicores, varint) comes first, field 6 (cache_bytes_free) last.
        Assert.Equal(0x08, bytes[0]);
        Assert.Equal(new byte[] { 0x30, 0x05 }, bytes[^2..]);
    }
}

/// <summary>A ReadOnlySequence over several arrays, as a socket delivers a body in pieces.</summary>
internal sealed class Segments : ReadOnlySequenceSegment<byte>
{
    private Segments(ReadOnlyMemory<byte> memory, long runningIndex)
    {
        Memory = memory;
        RunningIndex = runningIndex;
    }

    public static ReadOnlySequence<byte> Of(params byte[][] parts)
    {
        var first = new Segments(parts[0], 0);
        Segments last = first;
        foreach (byte[] part in parts[1..])
        {
            var next = new Segments(part, last.RunningIndex + last.Memory.Length);
            last.Next = next;
            last = next;
        }

        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }
}
