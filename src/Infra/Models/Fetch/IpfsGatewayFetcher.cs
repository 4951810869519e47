using System.Net;
using System.Net.Http.Headers;
using InfraMind.Node.Models.Content;

namespace InfraMind.Node.Models.Fetch;

/// <summary>
/// Fetches a UnixFS bundle from IPFS trustless gateways (`GET {gateway}/ipfs/{cid}?format=car`,
/// `Accept: application/vnd.ipld.car`): every block is verified against its CID while it streams, the DAG
/// is rebuilt from the requested root, and a gateway that sends a wrong, missing or unrelated block is
/// dropped for the next one. Each gateway gets its own timeout and a few retries with backoff.
/// </summary>
public sealed class IpfsGatewayFetcher(HttpClient http, IReadOnlyList<Uri> gateways, TimeSpan perGatewayTimeout, int attemptsPerGateway = 2)
{
    public const string CarMediaType = "application/vnd.ipld.car";

    /// <summary>Gateways that served bad data in this process: tried last from then on.</summary>
    private readonly HashSet<Uri> _distrusted = [];

    /// <summary>
    /// Fetches and rebuilds <paramref name="root"/> into <paramref name="destination"/>. <paramref name="admit"/> sees
    /// the size a gateway announces (usually none: CARs are streamed) before any block is read; the size limit
    /// is enforced while streaming either way.
    /// </summary>
    public async Task FetchAsync(Cid root, string destination, long maxBytes, IProgress<FetchProgress>? progress, CancellationToken cancellationToken, Action<long?>? admit = null)
    {
        if (gateways.Count == 0)
            throw new FetchException("no IPFS gateway is configured; fix: set registry.ipfs_gateways");

        var failures = new List<string>();
        foreach (Uri gateway in gateways.OrderBy(g => _distrusted.Contains(g)))
        {
            for (int attempt = 1; attempt <= attemptsPerGateway; attempt++)
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                timeout.CancelAfter(perGatewayTimeout);
                try
                {
                    await FetchFromAsync(gateway, root, destination, maxBytes, admit, progress, timeout.Token).ConfigureAwait(false);
                    return;
                }
                catch (BundleException e) when (e.Error is BundleError.TooLarge or BundleError.OutputExists)
                {
                    throw; // the bundle or the node's side, not the gateway: no other gateway would do better
                }
                catch (BundleException e) when (e.Error != BundleError.Truncated)
                {
                    // Wrong, missing or unrelated blocks: the gateway is dropped, not retried.
                    lock (_distrusted)
                        _distrusted.Add(gateway);
                    failures.Add($"{gateway}: {e.Message}");
                    break;
                }
                catch (BundleException e) when (attempt < attemptsPerGateway)
                {
                    // A stream cut short is usually a dropped connection: worth another try.
                    failures.Add($"{gateway} (attempt {attempt}): {e.Message}");
                    await Task.Delay(TimeSpan.FromMilliseconds(200 * (1 << attempt)), cancellationToken).ConfigureAwait(false);
                }
                catch (BundleException e)
                {
                    failures.Add($"{gateway} (attempt {attempt}): {e.Message}");
                }
                catch (Exception e) when (!cancellationToken.IsCancellationRequested && e is HttpRequestException or IOException or FetchException or OperationCanceledException)
                {
                    failures.Add($"{gateway} (attempt {attempt}): {(e is OperationCanceledException ? $"no answer within {perGatewayTimeout.TotalSeconds:0} s" : e.Message)}");
                    if (attempt < attemptsPerGateway)
                        await Task.Delay(TimeSpan.FromMilliseconds(200 * (1 << attempt)), cancellationToken).ConfigureAwait(false);
                }
            }
        }

        throw new FetchException($"no gateway served a verified {root}: {string.Join("; ", failures)}");
    }

    private async Task FetchFromAsync(Uri gateway, Cid root, string destination, long maxBytes, Action<long?>? admit, IProgress<FetchProgress>? progress, CancellationToken cancellationToken)
    {
        // The gateway's own path is kept: https://host/prefix/ asks https://host/prefix/ipfs/{cid}.
        var url = new Uri($"{gateway.ToString().TrimEnd('/')}/ipfs/{root}?format=car&dag-scope=all");
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(CarMediaType));
        using HttpResponseMessage response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode != HttpStatusCode.OK)
            throw new FetchException($"answered {(int)response.StatusCode} {response.ReasonPhrase}");
        string? type = response.Content.Headers.ContentType?.MediaType;
        if (type is not null && type != CarMediaType)
            throw new FetchException($"answered {type}, not a CAR (is it a trustless gateway?)");

        admit?.Invoke(response.Content.Headers.ContentLength);
        await using Stream body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        var blocks = new Progress<BundleProgress>(p => progress?.Report(new FetchProgress(gateway.ToString(), p.BytesRead, null, p.BlocksVerified)));
        if (Directory.Exists(destination))
            Directory.Delete(destination, recursive: true);
        await CarBundleReader.ExtractAsync(root, body, destination, "bundle", maxBytes, blocks, cancellationToken).ConfigureAwait(false);
    }
}
