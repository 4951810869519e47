using System.Buffers;
using System.Text;
using InfraMind.Node.Listener.Http;

namespace InfraMind.Node.Tests.Listener;

public class ParserTests
{
    public static readonly string[] ValidRequests =
    [
        "GET /healthz HTTP/1.1\r\nHost: localhost:9000\r\nUser-Agent: curl/8.0\r\nAccept: */*\r\nAccept-Encoding: gzip\r\nConnection: keep-alive\r\nX-Trace: abc\r\n\r\n",
        "POST /v1/jobs?wait=true&x=1 HTTP/1.1\r\nHost: n\r\nContent-Type: application/json\r\nContent-Length: 13\r\nExpect: 100-continue\r\n\r\n{\"job_id\":1}\n",
        "PUT /a HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length:5\r\n\r\nhello",
        "POST /c HTTP/1.1\r\nhost: h\r\ntransfer-encoding: Chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n",
        "GET http://example.com:80/p/q?z=%20 HTTP/1.1\r\nHost: example.com\r\nEmpty:\r\nTabbed:\tv\t\r\n\r\n",
    ];

    private static RequestHead NewHead() => new(new HeadLimits());

    private static ReadOnlySequence<byte> Seq(string s) => new(Encoding.Latin1.GetBytes(s));

    private static (ParseStatus Status, HttpParseError Error, long Consumed, RequestHead Head) Parse(ReadOnlySequence<byte> input, HeadLimits? limits = null)
    {
        var head = new RequestHead(limits ?? new HeadLimits());
        ParseStatus status = HttpRequestParser.Parse(input, head, out long consumed, out HttpParseError error);
        return (status, error, consumed, head);
    }

    /// <summary>Everything a parse produced, as text, to compare parses of the same bytes split differently.</summary>
    private static string Describe(ParseStatus status, HttpParseError error, long consumed, RequestHead head)
    {
        var sb = new StringBuilder($"{status} {error} {consumed} {head.Method} {head.IsHttp11} {head.ContentLength} {head.IsChunked} {head.ExpectContinue} {head.KeepAlive} ");
        sb.Append(Encoding.Latin1.GetString(head.Path)).Append('?').Append(Encoding.Latin1.GetString(head.Query));
        foreach (HeaderField f in head.Headers)
            sb.Append('|').Append(f.Known).Append(':').Append(Encoding.Latin1.GetString(head.NameOf(f))).Append('=').Append(Encoding.Latin1.GetString(head.ValueOf(f)));
        return sb.ToString();
    }

    [Fact]
    public void Typical_get_parses_into_fields()
    {
        var (status, error, consumed, head) = Parse(Seq(ValidRequests[0]));
        Assert.Equal(ParseStatus.Complete, status);
        Assert.Equal(HttpParseError.None, error);
        Assert.Equal(ValidRequests[0].Length, consumed);
        Assert.Equal(RequestMethod.Get, head.Method);
        Assert.True(head.IsHttp11);
        Assert.Equal("/healthz", Encoding.ASCII.GetString(head.Path));
        Assert.Equal(6, head.HeaderCount);
        Assert.True(head.TryGetValue(KnownHeader.Host, out ReadOnlySpan<byte> host));
        Assert.Equal("localhost:9000", Encoding.ASCII.GetString(host));
        Assert.True(head.TryGetValue(KnownHeader.Accept, out ReadOnlySpan<byte> accept));
        Assert.Equal("*/*", Encoding.ASCII.GetString(accept));
        Assert.True(head.TryGetValue("x-trace"u8, out ReadOnlySpan<byte> trace));
        Assert.Equal("abc", Encoding.ASCII.GetString(trace));
        Assert.True(head.KeepAlive);
    }

    [Fact]
    public void Post_with_query_length_and_expect()
    {
        var (status, _, consumed, head) = Parse(Seq(ValidRequests[1]));
        Assert.Equal(ParseStatus.Complete, status);
        Assert.Equal(RequestMethod.Post, head.Method);
        Assert.Equal("wait=true&x=1", Encoding.ASCII.GetString(head.Query));
        Assert.Equal(13, head.ContentLength);
        Assert.True(head.ExpectContinue);
        Assert.Equal(ValidRequests[1].Length - 13, consumed);
    }

    [Fact]
    public void Http10_keepalive_chunked_absolute_and_asterisk_forms()
    {
        var r2 = Parse(Seq(ValidRequests[2]));
        Assert.False(r2.Head.IsHttp11);
        Assert.True(r2.Head.KeepAlive);
        var r3 = Parse(Seq(ValidRequests[3]));
        Assert.True(r3.Head.IsChunked);
        Assert.Equal(-1, r3.Head.ContentLength);
        var r4 = Parse(Seq(ValidRequests[4]));
        Assert.Equal("*", Encoding.ASCII.GetString(r4.Head.Path));
        var r5 = Parse(Seq(ValidRequests[5]));
        Assert.Equal("/p/q", Encoding.ASCII.GetString(r5.Head.Path));
        Assert.Equal("z=%20", Encoding.ASCII.GetString(r5.Head.Query));
        Assert.True(r5.Head.TryGetValue("tabbed"u8, out ReadOnlySpan<byte> tabbed));
        Assert.Equal("v", Encoding.ASCII.GetString(tabbed));
        Assert.False(Parse(Seq("GET / HTTP/1.0\r\n\r\n")).Head.KeepAlive);
        Assert.False(Parse(Seq("GET / HTTP/1.1\r\nHost: h\r\nConnection: Keep-Alive, CLOSE\r\n\r\n")).Head.KeepAlive);
    }

    [Fact]
    public void Every_prefix_of_a_valid_request_is_incomplete_never_an_error()
    {
        foreach (string request in ValidRequests)
        {
            int headLength = request.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4;
            for (int n = 0; n < headLength; n++)
            {
                var (status, error, _, _) = Parse(Seq(request[..n]));
                Assert.True(status == ParseStatus.Incomplete, $"prefix of {n} bytes of {request[..12]}...: {status} {error}");
            }
        }
    }

    [Fact]
    public void Every_two_way_split_across_segments_parses_identically()
    {
        foreach (string request in ValidRequests)
        {
            byte[] bytes = Encoding.Latin1.GetBytes(request);
            var whole = Parse(new ReadOnlySequence<byte>(bytes));
            string expected = Describe(whole.Status, whole.Error, whole.Consumed, whole.Head);
            for (int split = 1; split < bytes.Length; split++)
            {
                var split2 = Parse(Segments.Of(bytes[..split], bytes[split..]));
                Assert.Equal(expected, Describe(split2.Status, split2.Error, split2.Consumed, split2.Head));
            }
        }
    }

    [Fact]
    public void One_byte_segments_parse_identically()
    {
        byte[] bytes = Encoding.Latin1.GetBytes(ValidRequests[0]);
        var whole = Parse(new ReadOnlySequence<byte>(bytes));
        var bytewise = Parse(Segments.Of([.. bytes.Select(b => new[] { b })]));
        Assert.Equal(Describe(whole.Status, whole.Error, whole.Consumed, whole.Head), Describe(bytewise.Status, bytewise.Error, bytewise.Consumed, bytewise.Head));
    }

    public static TheoryData<string, HttpParseError> Malformed => new()
    {
        { "GET /\r\n\r\n", HttpParseError.BadRequestLine },                        // HTTP/0.9
        { "GET / HTTP/2.0\r\nHost: h\r\n\r\n", HttpParseError.BadVersion },
        { "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", HttpParseError.BadVersion },          // HTTP/2 preface
        { "GET / HTTP/1.1 \r\nHost: h\r\n\r\n", HttpParseError.BadRequestLine },
        { "GET / http/1.1\r\nHost: h\r\n\r\n", HttpParseError.BadRequestLine },
        { "GET  / HTTP/1.1\r\nHost: h\r\n\r\n", HttpParseError.BadRequestLine },
        { " GET / HTTP/1.1\r\n", HttpParseError.BadRequestLine },
        { "BREW / HTTP/1.1\r\nHost: h\r\n\r\n", HttpParseError.UnsupportedMethod },
        { "get / HTTP/1.1\r\nHost: h\r\n\r\n", HttpParseError.UnsupportedMethod },
        { "TRACE / HTTP/1.1\r\nHost: h\r\n\r\n", HttpParseError.MethodNotAllowed },
        { "CONNECT h:443 HTTP/1.1\r\nHost: h\r\n\r\n", HttpParseError.MethodNotAllowed },
        { "G\u0001T / HTTP/1.1\r\n", HttpParseError.ControlCharacter },
        { "\u0016\u0003\u0001\u0002\u0000\u0001\u0000\u0001\u00fc\u0003\u0003", HttpParseError.BadRequestLine }, // TLS ClientHello
        { "GET /a\u0000b HTTP/1.1\r\nHost: h\r\n\r\n", HttpParseError.ControlCharacter },
        { "GET /a\u00e9 HTTP/1.1\r\nHost: h\r\n\r\n", HttpParseError.BadTarget },
        { "GET a HTTP/1.1\r\nHost: h\r\n\r\n", HttpParseError.BadTarget },
        { "GET * HTTP/1.1\r\nHost: h\r\n\r\n", HttpParseError.BadTarget },
        { "GET http:// HTTP/1.1\r\nHost: h\r\n\r\n", HttpParseError.BadTarget },
        { "GET http://u@h/ HTTP/1.1\r\nHost: h\r\n\r\n", HttpParseError.BadTarget },
        { "GET ftp://h/ HTTP/1.1\r\nHost: h\r\n\r\n", HttpParseError.BadTarget },
        { "GET /#frag HTTP/1.1\r\nHost: h\r\n\r\n", HttpParseError.BadTarget },
        { "GET / HTTP/1.1\nHost: h\r\n\r\n", HttpParseError.LoneLineFeed },
        { "GET / HTTP/1.1\r\nHost: h\n\r\n", HttpParseError.LoneLineFeed },
        { "GET / HTTP/1.1\r\nHost: h\r\n folded\r\n\r\n", HttpParseError.ObsFold },
        { "GET / HTTP/1.1\r\nHost: h\r\nNoColon\r\n\r\n", HttpParseError.BadHeaderName },
        { "GET / HTTP/1.1\r\nHost : h\r\n\r\n", HttpParseError.BadHeaderName },
        { "GET / HTTP/1.1\r\n: v\r\nHost: h\r\n\r\n", HttpParseError.BadHeaderName },
        { "GET / HTTP/1.1\r\nHost: h\r\nX: a\u0000b\r\n\r\n", HttpParseError.ControlCharacter },
        { "GET / HTTP/1.1\r\nHost: h\r\nX: a\u0007b\r\n\r\n", HttpParseError.ControlCharacter },
        { "GET / HTTP/1.1\r\nHost: h\r\nX: a\rb\r\n\r\n", HttpParseError.BadHeaderValue },
        { "GET / HTTP/1.1\r\n\r\n", HttpParseError.MissingHost },
        { "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", HttpParseError.DuplicateHost },
        { "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", HttpParseError.BothLengthAndChunked },
        { "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", HttpParseError.DuplicateContentLength },
        { "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n", HttpParseError.BadContentLength },
        { "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0x10\r\n\r\n", HttpParseError.BadContentLength },
        { "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999\r\n\r\n", HttpParseError.BadContentLength },
        { "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 9223372036854775808\r\n\r\n", HttpParseError.BadContentLength },
        { "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1 2\r\n\r\n", HttpParseError.BadContentLength },
        { "POST / HTTP/1.1\r\nHost: h\r\nContent-Length:\r\n\r\n", HttpParseError.BadContentLength },
        { "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", HttpParseError.UnsupportedTransferEncoding },
        { "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", HttpParseError.UnsupportedTransferEncoding },
        { "GET / HTTP/1.1\r\nHost: h\r\nExpect: 200-ok\r\n\r\n", HttpParseError.UnsupportedExpectation },
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public void Malformed_heads_are_refused_with_their_reason(string request, HttpParseError expected)
    {
        var (status, error, _, _) = Parse(Seq(request));
        Assert.Equal(ParseStatus.Error, status);
        Assert.Equal(expected, error);
    }

    [Fact]
    public void Size_limits_are_applied()
    {
        var limits = new HeadLimits(MaxRequestLine: 64, MaxHeaderCount: 4, MaxHeaderBytes: 256, MaxHeaderLine: 128);
        Assert.Equal(HttpParseError.RequestLineTooLong, Parse(Seq("GET /" + new string('a', 100)), limits).Error);
        Assert.Equal(HttpParseError.RequestLineTooLong, Parse(Seq("GET /" + new string('a', 100) + " HTTP/1.1\r\n\r\n"), limits).Error);
        Assert.Equal(HttpParseError.HeaderTooLong, Parse(Seq("GET / HTTP/1.1\r\nX: " + new string('v', 200)), limits).Error);
        string five = string.Concat(Enumerable.Range(0, 5).Select(i => $"H{i}: v\r\n"));
        Assert.Equal(HttpParseError.TooManyHeaders, Parse(Seq("GET / HTTP/1.1\r\n" + five + "\r\n"), limits).Error);
        string big = string.Concat(Enumerable.Range(0, 3).Select(i => $"H{i}: {new string('v', 100)}\r\n"));
        Assert.Equal(HttpParseError.HeadersTooLarge, Parse(Seq("GET / HTTP/1.1\r\n" + big + "\r\n"), limits).Error);
        // An oversized but endless line is refused as soon as the limit is reached, not when (if ever) it ends.
        Assert.Equal(ParseStatus.Error, Parse(new ReadOnlySequence<byte>(new byte[1 << 20].Select(_ => (byte)'A').ToArray())).Status);
    }

    [Fact]
    public void Hostile_random_bytes_never_throw()
    {
        var random = new Random(1234);
        var head = NewHead();
        for (int i = 0; i < 5000; i++)
        {
            byte[] bytes = new byte[random.Next(0, 300)];
            random.NextBytes(bytes);
            if (i % 2 == 0 && bytes.Length > 20)
                "GET / HTTP/1.1\r\n"u8.CopyTo(bytes);
            HttpRequestParser.Parse(new ReadOnlySequence<byte>(bytes), head, out _, out _);
        }
    }
}

/// <summary>Builds multi-segment sequences, to test parsers at every segment boundary.</summary>
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
        for (int i = 1; i < parts.Length; i++)
        {
            var next = new Segments(parts[i], last.RunningIndex + last.Memory.Length);
            last.Next = next;
            last = next;
        }

        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }
}
