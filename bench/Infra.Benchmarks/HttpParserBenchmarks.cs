using System.Buffers;
using System.Text;
using BenchmarkDotNet.Attributes;
using InfraMind.Node.Listener.Http;

namespace InfraMind.Node.Benchmarks;

/// <summary>
/// The listener's per-request parsing: a typical GET head with 6 headers, a POST head plus a small Content-Length
/// body, and a small chunked body. Names starting with HttpParse are held to 0 B/op by <see cref="AllocationBudget"/>.
/// </summary>
[MemoryDiagnoser]
public class HttpParserBenchmarks
{
    private const string Get =
        "GET /v1/status HTTP/1.1\r\nHost: 127.0.0.1:9000\r\nUser-Agent: curl/8.4.0\r\nAccept: application/json\r\n" +
        "Accept-Encoding: gzip, deflate\r\nConnection: keep-alive\r\nX-Request-Id: 7f3c2a\r\n\r\n";

    private const string Post =
        "POST /v1/jobs?wait=true HTTP/1.1\r\nHost: 127.0.0.1:9000\r\nContent-Type: application/json\r\nContent-Length: 48\r\n" +
        "Accept: application/json\r\nUser-Agent: infra-cli/0.1\r\nConnection: keep-alive\r\n\r\n" +
        "{\"job_id\":\"a6b4-23fa\",\"input\":\"hello, inference\"}";

    private const string Chunked = "10;ext=1\r\n0123456789abcdef\r\n10\r\n0123456789abcdef\r\n0\r\n\r\n";

    private ReadOnlySequence<byte> _get;
    private ReadOnlySequence<byte> _post;
    private ReadOnlySequence<byte> _chunked;
    private RequestHead _head = null!;
    private byte[] _body = [];

    [GlobalSetup]
    public void Setup()
    {
        _get = new ReadOnlySequence<byte>(Encoding.ASCII.GetBytes(Get));
        _post = new ReadOnlySequence<byte>(Encoding.ASCII.GetBytes(Post));
        _chunked = new ReadOnlySequence<byte>(Encoding.ASCII.GetBytes(Chunked));
        _head = new RequestHead(new HeadLimits());
        _body = new byte[64];
        if (HttpParseGet() != 6 || HttpParsePostWithBody() != 48 || HttpParseChunkedBody() != 32)
            throw new InvalidOperationException("the benchmark inputs do not parse as expected");
    }

    [Benchmark(Baseline = true)]
    public int HttpParseGet()
    {
        HttpRequestParser.Parse(_get, _head, out _, out _);
        return _head.HeaderCount;
    }

    [Benchmark]
    public long HttpParsePostWithBody()
    {
        HttpRequestParser.Parse(_post, _head, out long consumed, out _);
        ReadOnlySequence<byte> body = _post.Slice(consumed, _head.ContentLength);
        body.CopyTo(_body);
        return body.Length;
    }

    [Benchmark]
    public long HttpParseChunkedBody()
    {
        var decoder = new ChunkedBodyDecoder(1 << 20);
        long position = 0;
        while (decoder.Decode(_chunked.Slice(position), out long consumed, out _, out _) == ChunkStatus.Data)
            position += consumed;
        return decoder.Total;
    }
}
