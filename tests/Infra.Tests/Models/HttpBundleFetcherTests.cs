using System.Security.Cryptography;
using InfraMind.Node.Crypto;
using InfraMind.Node.Models.Fetch;
using InfraMind.Node.Tests.Support;

namespace InfraMind.Node.Tests.Models;

/// <summary>
/// The fetcher's read | hash | write pipeline: bodies of many chunks (the ring of four 1 MiB buffers wraps several
/// times) arrive byte for byte, and a short, long or corrupt body leaves no file behind and falls to the next mirror.
/// </summary>
public sealed class HttpBundleFetcherTests : IDisposable
{
    private readonly LocalHttpServer _server = new();
    private readonly HttpClient _http = new();
    private readonly TempFolder _temp = new();

    public void Dispose()
    {
        _http.Dispose();
        _server.Dispose();
        _temp.Dispose();
    }

    private static byte[] Body(int length)
    {
        byte[] body = new byte[length];
        new Random(length).NextBytes(body);
        return body;
    }

    private static Hash32 Sha256(byte[] body) => Hash32.Read(SHA256.HashData(body));

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(1 << 20)]
    [InlineData((9 << 20) + 12345)]
    public async Task A_body_of_any_size_is_written_byte_for_byte(int length)
    {
        byte[] body = Body(length);
        Uri uri = _server.Serve("/b.tar", new LocalHttpServer.Answer(body));
        var reports = new List<FetchProgress>();
        string file = _temp["b.tar"];
        await new HttpBundleFetcher(_http).FetchAsync([uri], Sha256(body), file, 64 << 20, null, new Inline(reports), CancellationToken.None);

        Assert.Equal(body, await File.ReadAllBytesAsync(file));
        Assert.Equal(length, reports.Count == 0 ? 0 : reports[^1].Bytes);
    }

    [Theory]
    [InlineData("flipped")]
    [InlineData("short")]
    [InlineData("over-limit")]
    public async Task A_bad_body_leaves_no_file_and_the_next_mirror_serves(string how)
    {
        byte[] body = Body((3 << 20) + 77);
        byte[] bad = (byte[])body.Clone();
        LocalHttpServer.Answer answer = how switch
        {
            "flipped" => new(Flip(bad, bad.Length - 5)),
            "short" => new(bad[..(2 << 20)], DeclaredLength: bad.Length),
            _ => new([.. bad, .. bad]),
        };
        Uri broken = _server.Serve("/a/b.tar", answer);
        Uri good = _server.Serve("/b/b.tar", new LocalHttpServer.Answer(body));
        string file = _temp["b.tar"];
        var fetcher = new HttpBundleFetcher(_http);

        var e = await Assert.ThrowsAsync<FetchException>(() => fetcher.FetchAsync([broken], Sha256(body), file, 5 << 20, null, null, CancellationToken.None));
        Assert.False(File.Exists(file), e.Message);

        Assert.Equal(good, await fetcher.FetchAsync([broken, good], Sha256(body), file, 5 << 20, null, null, CancellationToken.None));
        Assert.Equal(body, await File.ReadAllBytesAsync(file));
    }

    private static byte[] Flip(byte[] bytes, int at)
    {
        bytes[at] ^= 0x40;
        return bytes;
    }

    private sealed class Inline(List<FetchProgress> reports) : IProgress<FetchProgress>
    {
        public void Report(FetchProgress value) => reports.Add(value);
    }
}
