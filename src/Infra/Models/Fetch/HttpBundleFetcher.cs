using System.Buffers;
using System.Net;
using System.Runtime.ExceptionServices;
using System.Security.Cryptography;
using System.Threading.Channels;
using InfraMind.Node.Crypto;
using Microsoft.Win32.SafeHandles;

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
        long total;
        await using (Stream body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false))
        {
            // Preallocated from the announced size (already admitted by the cache): the file system reserves the
            // extents once instead of growing the file per write.
            long preallocate = length is long known && known <= maxBytes ? known : 0;
            using SafeFileHandle file = File.OpenHandle(destinationFile, FileMode.Create, FileAccess.Write, FileShare.None, FileOptions.None, preallocate);
            total = await PipelineAsync(source, body, sha256, file, length, maxBytes, progress, cancellationToken).ConfigureAwait(false);
        }

        if (length is { } announced && total != announced)
            throw new FetchException($"the download stopped at {total} of {announced} bytes");
        Hash32 actual = default;
        sha256.GetHashAndReset(actual);
        if (actual != expected)
            throw new FetchException($"the bytes hash to sha256 {actual}, not the model hash {expected}");
    }

    /// <summary>Bytes per chunk: large reads keep the per-call costs of the socket, the hash and the write small.</summary>
    private const int ChunkBytes = 1 << 20;

    /// <summary>Chunks in flight between the three stages: bounds memory to 4 MiB and lets a slow stage hold the reader back.</summary>
    private const int Chunks = 4;

    /// <summary>
    /// Read | hash | write as a pipeline: this method fills pooled 1 MiB chunks from the body, one task hashes them in
    /// order (IncrementalHash: OpenSSL, SHA-NI), another writes them in order, and a chunk is read into again only
    /// once it is hashed and written. On one core the three would run one after another (the old loop: 519 MB/s on
    /// the 2-core VM); here the hash runs beside the socket read and the file write. Returns the bytes read.
    /// </summary>
    private static async Task<long> PipelineAsync(Uri source, Stream body, IncrementalHash sha256, SafeFileHandle file, long? announced, long maxBytes, IProgress<FetchProgress>? progress, CancellationToken cancellationToken)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var free = Channel.CreateUnbounded<byte[]>(new UnboundedChannelOptions { SingleReader = true });
        var toHash = Channel.CreateUnbounded<(byte[] Buffer, int Length)>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        var toWrite = Channel.CreateUnbounded<(byte[] Buffer, int Length)>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        for (int i = 0; i < Chunks; i++)
            free.Writer.TryWrite(ArrayPool<byte>.Shared.Rent(ChunkBytes));

        Task hashing = Stage(stop, async token =>
        {
            await foreach ((byte[] buffer, int count) in toHash.Reader.ReadAllAsync(token).ConfigureAwait(false))
            {
                sha256.AppendData(buffer, 0, count);
                toWrite.Writer.TryWrite((buffer, count));
            }

            toWrite.Writer.TryComplete();
        });
        Task writing = Stage(stop, async token =>
        {
            long offset = 0;
            await foreach ((byte[] buffer, int count) in toWrite.Reader.ReadAllAsync(token).ConfigureAwait(false))
            {
                RandomAccess.Write(file, buffer.AsSpan(0, count), offset);
                offset += count;
                free.Writer.TryWrite(buffer);
            }
        });

        long total = 0;
        try
        {
            bool ended = false;
            while (!ended)
            {
                byte[] buffer = await free.Reader.ReadAsync(stop.Token).ConfigureAwait(false);
                int filled = 0;
                while (filled < ChunkBytes)
                {
                    int read = await body.ReadAsync(buffer.AsMemory(filled, ChunkBytes - filled), stop.Token).ConfigureAwait(false);
                    if (read == 0)
                    {
                        ended = true;
                        break;
                    }

                    filled += read;
                }

                total += filled;
                if (total > maxBytes)
                    throw new FetchException($"the bundle is over the {maxBytes}-byte limit");
                if (filled > 0)
                    toHash.Writer.TryWrite((buffer, filled));
                progress?.Report(new FetchProgress(source.ToString(), total, announced, 0));
            }

            toHash.Writer.TryComplete();
            await Task.WhenAll(hashing, writing).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            // Stop both stages and wait for them (no write may outlive the file handle); a stage's own failure
            // (a write error) is the real cause when the reader only saw the cancellation it triggered.
            await stop.CancelAsync().ConfigureAwait(false);
            toHash.Writer.TryComplete();
            Exception? cause = await FailureOf(hashing).ConfigureAwait(false) ?? await FailureOf(writing).ConfigureAwait(false);
            if (e is OperationCanceledException && !cancellationToken.IsCancellationRequested && cause is not null)
                ExceptionDispatchInfo.Throw(cause);
            throw;
        }

        while (free.Reader.TryRead(out byte[]? buffer))
            ArrayPool<byte>.Shared.Return(buffer);
        return total;

        // CancellationToken.None: a stage always starts, so awaiting it after a failure never hangs on one that did not.
        static Task Stage(CancellationTokenSource stop, Func<CancellationToken, Task> body) => Task.Run(async () =>
        {
            try
            {
                await body(stop.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                await stop.CancelAsync().ConfigureAwait(false);
                throw;
            }
        }, CancellationToken.None);

        static async Task<Exception?> FailureOf(Task stage)
        {
            try
            {
                await stage.ConfigureAwait(false);
                return null;
            }
            catch (OperationCanceledException)
            {
                return null;
            }
            catch (Exception e)
            {
                return e;
            }
        }
    }
}

/// <summary>A source that did not deliver verified bytes.</summary>
public sealed class FetchException(string message, Exception? inner = null) : Exception(message, inner);
