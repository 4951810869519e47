using System.Net;
using System.Security.Cryptography;
using InfraMind.Node.Crypto;

namespace InfraMind.Node.Models.Fetch;

/// <summary>Progress of a fetch: bytes so far, of how many if known, and blocks for CAR fetches.</summary>
public readonly record struct FetchProgress(string Source, long Bytes, long? TotalBytes, long Blocks);

/// <summary>
/// Fetches an HTTP(S) bundle (.tar or .tar.gz) whose sha256 must equal the model hash, trying mirrors in
/// order. The bytes go to a file while they are hashed; a file whose hash does not match is deleted before
/// anything reads it, so a truncated or corrupt download reaches neither the cache nor the engine.
/// </summary>
public sealed class HttpBundleFetcher(HttpClient http)
{
    /// <summary>Downloads into <paramref name="destinationFile"/>; returns the source that served the verified bytes.</summary>
    /// <paramref name="admit"/> sees the announced size (if any) once the headers are in and before any body byte
    /// is read: the cache refuses there a bundle that cannot fit.
    public async Task<Uri> FetchAsync(IReadOnlyList<Uri> sources, Hash32 expectedSha256, string destinationFile, long maxBytes, Action<long?>? admit, IProgress<FetchProgress>? progress, CancellationToken cancellationToken)
    {
        var failures = new List<string>();
        foreach (Uri source in sources)
        {
            try
            {
                await DownloadAsync(source, expectedSha256, destinationFile, maxBytes, admit, progress, cancellationToken).ConfigureAwait(false);
                return source;
            }
            catch (Exception e) when (e is HttpRequestException or IOException or FetchException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
            {
                File.Delete(destinationFile);
                failures.Add($"{source}: {e.Message}");
            }
        }

        throw new FetchException($"no source served the bundle with sha256 {expectedSha256}: {string.Join("; ", failures)}");
    }

    private async Task DownloadAsync(Uri source, Hash32 expected, string destinationFile, long maxBytes, Action<long?>? admit, IProgress<FetchProgress>? progress, CancellationToken cancellationToken)
    {
        using HttpResponseMessage response = await http.GetAsync(source, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode != HttpStatusCode.OK)
            throw new FetchException($"answered {(int)response.StatusCode} {response.ReasonPhrase}");
        long? length = response.Content.Headers.ContentLength;
        if (length > maxBytes)
            throw new FetchException($"the bundle is {length} bytes, over the {maxBytes}-byte limit");
        admit?.Invoke(length);

        using var sha256 = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        long total = 0;
        await using (Stream body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false))
        await using (var file = new FileStream(destinationFile, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 0, useAsync: true))
        {
            byte[] buffer = new byte[1 << 20];
            while (true)
            {
                int read = await body.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
                if (read == 0)
                    break;
                total += read;
                if (total > maxBytes)
                    throw new FetchException($"the bundle is over the {maxBytes}-byte limit");
                sha256.AppendData(buffer, 0, read);
                await file.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
                progress?.Report(new FetchProgress(source.ToString(), total, length, 0));
            }

            await file.FlushAsync(cancellationToken).ConfigureAwait(false);
        }

        if (length is { } announced && total != announced)
            throw new FetchException($"the download stopped at {total} of {announced} bytes");
        Hash32 actual = default;
        sha256.GetHashAndReset(actual);
        if (actual != expected)
            throw new FetchException($"the bytes hash to sha256 {actual}, not the model hash {expected}");
    }
}

/// <summary>A source that did not deliver verified bytes.</summary>
public sealed class FetchException(string message, Exception? inner = null) : Exception(message, inner);
