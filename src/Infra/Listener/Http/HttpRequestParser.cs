using System.Buffers;
using System.Runtime.CompilerServices;
using System.Text;

namespace InfraMind.Node.Listener.Http;

/// <summary>Outcome of one parse attempt.</summary>
public enum ParseStatus
{
    /// <summary>A whole head was parsed; the caller advances by the consumed count.</summary>
    Complete,

    /// <summary>The bytes so far are a valid prefix; read more and parse again from the start.</summary>
    Incomplete,

    /// <summary>The bytes can never become a valid request; the error says why.</summary>
    Error,
}

/// <summary>
/// HTTP/1.1 request-head parser: a pure function of bytes (no I/O, no timeouts, no allocation). The connection owns
/// buffering and limits in time; this type owns the grammar and the limits in size. Each limit is applied by
/// slicing the input before searching, so hostile input costs at most the limit to look at.
/// </summary>
public static class HttpRequestParser
{
    private const byte CR = (byte)'\r';
    private const byte LF = (byte)'\n';

    /// <summary>
    /// Parses the request line and header fields at the start of <paramref name="input"/> into <paramref name="head"/>.
    /// On <see cref="ParseStatus.Complete"/>, <paramref name="consumed"/> is the length of the head including its
    /// final empty line; the body (if any) follows.
    /// </summary>
    public static ParseStatus Parse(in ReadOnlySequence<byte> input, RequestHead head, out long consumed, out HttpParseError error)
    {
        head.Reset();
        consumed = 0;
        HeadLimits limits = head.Limits;
        byte[] buffer = head.Buffer;

        // Request line, at most MaxRequestLine bytes including CRLF.
        ReadOnlySequence<byte> window = input.Length > limits.MaxRequestLine ? input.Slice(0, limits.MaxRequestLine) : input;
        SequencePosition? lf = window.PositionOf(LF);
        if (lf is null)
        {
            if (input.Length >= limits.MaxRequestLine)
                return Fail(HttpParseError.RequestLineTooLong, out error);

            // Refuse garbage (a TLS ClientHello, binary noise) as soon as its first bytes show it is no method token,
            // instead of waiting for a line end that may never come.
            error = CheckMethodPrefix(window);
            return error == HttpParseError.None ? ParseStatus.Incomplete : ParseStatus.Error;
        }

        int lineLength = (int)window.Slice(0, lf.Value).Length;
        window.Slice(0, lineLength).CopyTo(buffer);
        if (lineLength == 0 || buffer[lineLength - 1] != CR)
            return Fail(lineLength == 0 ? HttpParseError.BadRequestLine : HttpParseError.LoneLineFeed, out error);

        error = ParseRequestLine(buffer.AsSpan(0, lineLength - 1), head);
        if (error != HttpParseError.None)
            return ParseStatus.Error;

        int used = lineLength;          // bytes of buffer holding the request line (without LF)
        long position = lineLength + 1; // bytes of input consumed so far
        long headerBytes = 0;
        bool sawHost = false;

        while (true)
        {
            ReadOnlySequence<byte> rest = input.Slice(position);
            long budget = Math.Min(limits.MaxHeaderBytes - headerBytes, limits.MaxHeaderLine);
            bool budgetIsTotal = limits.MaxHeaderBytes - headerBytes <= limits.MaxHeaderLine;
            window = rest.Length > budget ? rest.Slice(0, budget) : rest;
            lf = window.PositionOf(LF);
            if (lf is null)
            {
                if (rest.Length >= budget)
                    return Fail(budgetIsTotal ? HttpParseError.HeadersTooLarge : HttpParseError.HeaderTooLong, out error);
                error = HttpParseError.None;
                return ParseStatus.Incomplete;
            }

            int length = (int)window.Slice(0, lf.Value).Length;
            Span<byte> line = buffer.AsSpan(used, length);
            window.Slice(0, length).CopyTo(line);
            position += length + 1;
            headerBytes += length + 1;
            if (length == 0 || line[length - 1] != CR)
                return Fail(HttpParseError.LoneLineFeed, out error);

            if (length == 1)
                break; // the empty line that ends the head

            if (head.HeaderCount == limits.MaxHeaderCount)
                return Fail(HttpParseError.TooManyHeaders, out error);

            error = ParseHeaderLine(head, used, length - 1, ref sawHost);
            if (error != HttpParseError.None)
                return ParseStatus.Error;
            used += length;
        }

        if (head.IsChunked && head.ContentLength >= 0)
            return Fail(HttpParseError.BothLengthAndChunked, out error);
        if (head.IsHttp11 && !sawHost)
            return Fail(HttpParseError.MissingHost, out error);

        consumed = position;
        error = HttpParseError.None;
        return ParseStatus.Complete;
    }

    private static ParseStatus Fail(HttpParseError reason, out HttpParseError error)
    {
        error = reason;
        return ParseStatus.Error;
    }

    private static HttpParseError CheckMethodPrefix(in ReadOnlySequence<byte> window)
    {
        ReadOnlySpan<byte> first = window.FirstSpan;
        int n = Math.Min(first.Length, 16);
        for (int i = 0; i < n; i++)
        {
            byte b = first[i];
            if (b == (byte)' ')
                return i == 0 ? HttpParseError.BadRequestLine : HttpParseError.None;
            if (b == CR)
                return HttpParseError.None; // decided when the LF arrives
            if (!IsTokenChar(b))
                return HttpParseError.BadRequestLine;
        }

        return n == 16 ? HttpParseError.UnsupportedMethod : HttpParseError.None;
    }

    private static HttpParseError ParseRequestLine(ReadOnlySpan<byte> line, RequestHead head)
    {
        int sp1 = line.IndexOf((byte)' ');
        if (sp1 <= 0)
            return HttpParseError.BadRequestLine;
        ReadOnlySpan<byte> method = line[..sp1];
        foreach (byte b in method)
        {
            if (!IsTokenChar(b))
                return b < 0x20 || b == 0x7F ? HttpParseError.ControlCharacter : HttpParseError.BadRequestLine;
        }

        int targetStart = sp1 + 1;
        int sp2 = line[targetStart..].IndexOf((byte)' ');
        if (sp2 <= 0)
            return HttpParseError.BadRequestLine; // HTTP/0.9 ("GET /"), or two spaces
        ReadOnlySpan<byte> target = line.Slice(targetStart, sp2);
        ReadOnlySpan<byte> version = line[(targetStart + sp2 + 1)..];

        if (version.SequenceEqual("HTTP/1.1"u8))
            head.IsHttp11 = true;
        else if (version.SequenceEqual("HTTP/1.0"u8))
            head.IsHttp11 = false;
        else if (version.Length == 8 && version.StartsWith("HTTP/"u8) && IsDigit(version[5]) && version[6] == '.' && IsDigit(version[7]))
            return HttpParseError.BadVersion;
        else
            return HttpParseError.BadRequestLine;

        foreach (byte b in target)
        {
            if (b < 0x20 || b == 0x7F)
                return HttpParseError.ControlCharacter;
            if (b > 0x7F || b == (byte)'#')
                return HttpParseError.BadTarget;
        }

        HttpParseError methodError = ParseMethod(method, out RequestMethod parsed);
        if (methodError != HttpParseError.None)
            return methodError;
        head.Method = parsed;

        return ParseTarget(target, targetStart, head);
    }

    private static HttpParseError ParseMethod(ReadOnlySpan<byte> method, out RequestMethod parsed)
    {
        parsed = default;
        switch (method.Length)
        {
            case 3 when method.SequenceEqual("GET"u8):
                parsed = RequestMethod.Get;
                return HttpParseError.None;
            case 3 when method.SequenceEqual("PUT"u8):
                parsed = RequestMethod.Put;
                return HttpParseError.None;
            case 4 when method.SequenceEqual("POST"u8):
                parsed = RequestMethod.Post;
                return HttpParseError.None;
            case 4 when method.SequenceEqual("HEAD"u8):
                parsed = RequestMethod.Head;
                return HttpParseError.None;
            case 5 when method.SequenceEqual("PATCH"u8):
                parsed = RequestMethod.Patch;
                return HttpParseError.None;
            case 5 when method.SequenceEqual("TRACE"u8):
                return HttpParseError.MethodNotAllowed;
            case 6 when method.SequenceEqual("DELETE"u8):
                parsed = RequestMethod.Delete;
                return HttpParseError.None;
            case 7 when method.SequenceEqual("OPTIONS"u8):
                parsed = RequestMethod.Options;
                return HttpParseError.None;
            case 7 when method.SequenceEqual("CONNECT"u8):
                return HttpParseError.MethodNotAllowed;
            default:
                return HttpParseError.UnsupportedMethod;
        }
    }

    /// <summary>Origin form ("/p?q"), absolute form ("http://host/p?q"), or "*" for OPTIONS.</summary>
    private static HttpParseError ParseTarget(ReadOnlySpan<byte> target, int offset, RequestHead head)
    {
        int pathStart;
        if (target[0] == (byte)'/')
        {
            pathStart = 0;
        }
        else if (target.Length == 1 && target[0] == (byte)'*')
        {
            if (head.Method != RequestMethod.Options)
                return HttpParseError.BadTarget;
            head.PathStart = offset;
            head.PathLength = 1;
            return HttpParseError.None;
        }
        else
        {
            int schemeLength = StartsWithIgnoreCase(target, "http://"u8) ? 7 : StartsWithIgnoreCase(target, "https://"u8) ? 8 : 0;
            if (schemeLength == 0)
                return HttpParseError.BadTarget;
            ReadOnlySpan<byte> afterScheme = target[schemeLength..];
            int authorityEnd = afterScheme.IndexOfAny((byte)'/', (byte)'?');
            int authorityLength = authorityEnd < 0 ? afterScheme.Length : authorityEnd;
            // An authority is host[:port]; userinfo ('@') and empty hosts are refused.
            if (authorityLength == 0 || afterScheme[..authorityLength].Contains((byte)'@'))
                return HttpParseError.BadTarget;
            pathStart = schemeLength + authorityLength;
        }

        ReadOnlySpan<byte> rest = target[pathStart..];
        int question = rest.IndexOf((byte)'?');
        int pathLength = question < 0 ? rest.Length : question;
        head.PathStart = offset + pathStart;
        head.PathLength = pathLength;
        if (question >= 0)
        {
            head.QueryStart = offset + pathStart + question + 1;
            head.QueryLength = rest.Length - question - 1;
        }

        return HttpParseError.None;
    }

    private static HttpParseError ParseHeaderLine(RequestHead head, int start, int length, ref bool sawHost)
    {
        ReadOnlySpan<byte> line = head.Buffer.AsSpan(start, length);
        if (line[0] is (byte)' ' or (byte)'\t')
            return HttpParseError.ObsFold;

        int colon = line.IndexOf((byte)':');
        if (colon <= 0)
            return HttpParseError.BadHeaderName;
        ReadOnlySpan<byte> name = line[..colon];
        foreach (byte b in name)
        {
            if (!IsTokenChar(b))
                return b < 0x20 && b != (byte)'\t' ? HttpParseError.ControlCharacter : HttpParseError.BadHeaderName;
        }

        int valueStart = colon + 1;
        int valueEnd = line.Length;
        while (valueStart < valueEnd && line[valueStart] is (byte)' ' or (byte)'\t')
            valueStart++;
        while (valueEnd > valueStart && line[valueEnd - 1] is (byte)' ' or (byte)'\t')
            valueEnd--;
        ReadOnlySpan<byte> value = line[valueStart..valueEnd];
        foreach (byte b in value)
        {
            if ((b < 0x20 && b != (byte)'\t') || b == 0x7F)
                return b == CR ? HttpParseError.BadHeaderValue : HttpParseError.ControlCharacter;
        }

        KnownHeader known = Recognise(name);
        switch (known)
        {
            case KnownHeader.Host:
                if (sawHost)
                    return HttpParseError.DuplicateHost;
                sawHost = true;
                break;
            case KnownHeader.ContentLength:
                if (!TryParseLength(value, out long contentLength))
                    return HttpParseError.BadContentLength;
                if (head.ContentLength >= 0 && head.ContentLength != contentLength)
                    return HttpParseError.DuplicateContentLength;
                head.ContentLength = contentLength;
                break;
            case KnownHeader.TransferEncoding:
                // Only a single "chunked" coding: anything layered (gzip, chunked) or repeated is refused, which
                // also closes the door on request smuggling through odd codings.
                if (head.IsChunked || !Ascii.EqualsIgnoreCase(value, "chunked"u8))
                    return HttpParseError.UnsupportedTransferEncoding;
                head.IsChunked = true;
                break;
            case KnownHeader.Connection:
                ParseConnection(value, head);
                break;
            case KnownHeader.Expect:
                if (!Ascii.EqualsIgnoreCase(value, "100-continue"u8))
                    return HttpParseError.UnsupportedExpectation;
                head.ExpectContinue = head.IsHttp11;
                break;
        }

        head.HeaderStore[head.HeaderCount++] = new HeaderField(known, start, colon, start + valueStart, valueEnd - valueStart);
        return HttpParseError.None;
    }

    private static void ParseConnection(ReadOnlySpan<byte> value, RequestHead head)
    {
        foreach (Range range in value.Split((byte)','))
        {
            ReadOnlySpan<byte> token = value[range].Trim(" \t"u8);
            if (Ascii.EqualsIgnoreCase(token, "close"u8))
                head.ConnectionClose = true;
            else if (Ascii.EqualsIgnoreCase(token, "keep-alive"u8))
                head.ConnectionKeepAlive = true;
        }
    }

    /// <summary>1*DIGIT only: no sign, no hex, no spaces, no list; fails on overflow.</summary>
    internal static bool TryParseLength(ReadOnlySpan<byte> value, out long result)
    {
        result = 0;
        if (value.IsEmpty || value.Length > 19)
            return false;
        foreach (byte b in value)
        {
            if (!IsDigit(b))
                return false;
            long next = (result * 10) + (b - '0');
            if (next < result)
                return false;
            result = next;
        }

        return true;
    }

    private static KnownHeader Recognise(ReadOnlySpan<byte> name) => name.Length switch
    {
        4 when Ascii.EqualsIgnoreCase(name, "Host"u8) => KnownHeader.Host,
        6 when Ascii.EqualsIgnoreCase(name, "Accept"u8) => KnownHeader.Accept,
        6 when Ascii.EqualsIgnoreCase(name, "Expect"u8) => KnownHeader.Expect,
        10 when Ascii.EqualsIgnoreCase(name, "Connection"u8) => KnownHeader.Connection,
        12 when Ascii.EqualsIgnoreCase(name, "Content-Type"u8) => KnownHeader.ContentType,
        14 when Ascii.EqualsIgnoreCase(name, "Content-Length"u8) => KnownHeader.ContentLength,
        17 when Ascii.EqualsIgnoreCase(name, "Transfer-Encoding"u8) => KnownHeader.TransferEncoding,
        _ => KnownHeader.None,
    };

    private static bool StartsWithIgnoreCase(ReadOnlySpan<byte> value, ReadOnlySpan<byte> prefix) =>
        value.Length >= prefix.Length && Ascii.EqualsIgnoreCase(value[..prefix.Length], prefix);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool IsDigit(byte b) => (uint)(b - '0') <= 9;

    /// <summary>RFC 9110 tchar.</summary>
    internal static bool IsTokenChar(byte b) =>
        b < 128 && TokenChars[b];

    private static ReadOnlySpan<bool> TokenChars => [
        false, false, false, false, false, false, false, false, false, false, false, false, false, false, false, false,
        false, false, false, false, false, false, false, false, false, false, false, false, false, false, false, false,
        // SP ! " # $ % & ' ( ) * + , - . /
        false, true, false, true, true, true, true, true, false, false, true, true, false, true, true, false,
        // 0-9 : ; < = > ?
        true, true, true, true, true, true, true, true, true, true, false, false, false, false, false, false,
        // @ A-O
        false, true, true, true, true, true, true, true, true, true, true, true, true, true, true, true,
        // P-Z [ \ ] ^ _
        true, true, true, true, true, true, true, true, true, true, true, false, false, false, true, true,
        // ` a-o
        true, true, true, true, true, true, true, true, true, true, true, true, true, true, true, true,
        // p-z { | } ~ DEL
        true, true, true, true, true, true, true, true, true, true, true, false, true, false, true, false,
    ];
}
