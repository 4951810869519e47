using System.Buffers;
using System.Buffers.Binary;
using BenchmarkDotNet.Attributes;
using InfraMind.Node.Containers.Engine;

namespace InfraMind.Node.Benchmarks;

/// <summary>
/// The engine's multiplexed output stream (a stdio job's stdout and stderr): 64 KiB of frames, 3.5 KiB of stdout then
/// a short stderr line, fed in 8 KiB reads whose edges fall inside headers and payloads alike. Names starting with
/// FrameDemux are held to 0 B/op by <see cref="AllocationBudget"/>.
/// </summary>
[MemoryDiagnoser]
public class FrameDemuxBenchmarks
{
    private const int ReadSize = 8 * 1024;

    private ReadOnlySequence<byte>[] _reads = [];
    private long _stdoutBytes;
    private long _stderrBytes;
    private readonly long[] _counts = new long[3];

    [GlobalSetup]
    public void Setup()
    {
        var stream = new ArrayBufferWriter<byte>();
        while (stream.WrittenCount < 64 * 1024)
        {
            _stdoutBytes += WriteFrame(stream, OutputChannel.Stdout, 3584, (byte)'o');
            _stderrBytes += WriteFrame(stream, OutputChannel.Stderr, 61, (byte)'e');
        }

        byte[] bytes = stream.WrittenSpan.ToArray();
        _reads = Enumerable.Range(0, (bytes.Length + ReadSize - 1) / ReadSize)
            .Select(i => new ReadOnlySequence<byte>(bytes, i * ReadSize, Math.Min(ReadSize, bytes.Length - (i * ReadSize))))
            .ToArray();
        if (FrameDemuxStdoutStderr() != _stdoutBytes + _stderrBytes)
            throw new InvalidOperationException("the benchmark stream does not demultiplex as expected");
    }

    [Benchmark]
    public long FrameDemuxStdoutStderr()
    {
        var demuxer = new OutputDemuxer();
        Array.Clear(_counts);
        var sink = new CountingSink(_counts);
        foreach (ReadOnlySequence<byte> read in _reads)
            demuxer.Feed(read, sink);
        if (!demuxer.AtFrameBoundary || sink.Counts[1] != _stdoutBytes || sink.Counts[2] != _stderrBytes)
            throw new InvalidOperationException("the stream did not end on a frame boundary with every byte counted");
        return sink.Counts[1] + sink.Counts[2];
    }

    /// <summary>Appends one frame; returns its payload length.</summary>
    private static int WriteFrame(ArrayBufferWriter<byte> stream, OutputChannel channel, int length, byte fill)
    {
        Span<byte> frame = stream.GetSpan(OutputDemuxer.HeaderSize + length)[..(OutputDemuxer.HeaderSize + length)];
        frame[..4].Clear();
        frame[0] = (byte)channel;
        BinaryPrimitives.WriteUInt32BigEndian(frame[4..], (uint)length);
        frame[OutputDemuxer.HeaderSize..].Fill(fill);
        stream.Advance(frame.Length);
        return length;
    }

    private readonly struct CountingSink(long[] counts) : IOutputSink
    {
        public long[] Counts => counts;

        public void Write(OutputChannel channel, ReadOnlySequence<byte> payload) => counts[(int)channel] += payload.Length;
    }
}
