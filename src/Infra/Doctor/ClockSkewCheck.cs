using System.Globalization;
using System.Net;
using System.Net.Http.Headers;

namespace InfraMind.Node.Doctor;

/// <summary>
/// The clock against the scheduler's: one HTTP/2 request to each mesh endpoint in turn (the way the mesh link dials
/// it, so a gRPC server answers) and the Date header of whatever it answers. The mesh protocol has no time RPC, and
/// the proto is not changed for this.
/// </summary>
/// <remarks>
/// Bounds: hello, rejection and receipt signatures carry Unix-second timestamps and jobs carry deadlines, so a node
/// off by more than <see cref="FailBound"/> (30 s) signs times a scheduler will doubt and misjudges deadlines; it fails.
/// Over <see cref="WarnBound"/> (5 s) it warns. Date has one-second resolution; the estimate takes the middle of that
/// second and of the round trip, and the uncertainty printed is half of each.
/// </remarks>
public static class ClockSkewCheck
{
    public static readonly TimeSpan FailBound = TimeSpan.FromSeconds(30);
    public static readonly TimeSpan WarnBound = TimeSpan.FromSeconds(5);

    private const string Name = "clock skew";
    private const string NtpFix = "enable NTP on this host (`timedatectl set-ntp true`, or chrony); ask the scheduler's operator if this host is already in sync";

    /// <summary>Measures against the first endpoint that answers with a Date, within <paramref name="timeout"/> for all of them.</summary>
    public static async Task<CheckResult> RunAsync(IReadOnlyList<Uri> endpoints, TimeSpan timeout, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        time ??= TimeProvider.System;
        if (endpoints.Count == 0)
            return CheckResult.Skipped(Name, "no mesh.endpoints configured (standalone node)");

        using var budget = new CancellationTokenSource(timeout);
        var problems = new List<string>();
        foreach (Uri endpoint in endpoints)
        {
            if (budget.IsCancellationRequested)
            {
                problems.Add($"{endpoint}: not tried, the {Seconds(timeout)} s budget was spent");
                continue;
            }

            try
            {
                (DateTimeOffset? date, DateTimeOffset sent, DateTimeOffset received) = await ProbeAsync(endpoint, time, budget.Token).ConfigureAwait(false);
                if (date is not { } serverDate)
                {
                    problems.Add($"{endpoint}: answered without a Date header");
                    continue;
                }

                TimeSpan roundTrip = received - sent;
                DateTimeOffset localMiddle = sent + (roundTrip / 2);
                TimeSpan skew = localMiddle - (serverDate + TimeSpan.FromMilliseconds(500));
                TimeSpan uncertainty = TimeSpan.FromMilliseconds(500) + (roundTrip / 2);
                return Judge(endpoint, skew, uncertainty);
            }
            catch (OperationCanceledException)
            {
                problems.Add($"{endpoint}: no answer within {Seconds(timeout)} s");
            }
            catch (HttpRequestException e)
            {
                problems.Add($"{endpoint}: {OneLine(e)}");
            }
        }

        return CheckResult.Warning(Name, $"not measured: no scheduler answered ({string.Join("; ", problems)})",
            "check that mesh.endpoints names a running scheduler this host can reach (the mesh link dials it over HTTP/2)");
    }

    /// <summary>The verdict for a measured <paramref name="skew"/> (local minus scheduler) known to ±<paramref name="uncertainty"/>.</summary>
    public static CheckResult Judge(Uri endpoint, TimeSpan skew, TimeSpan uncertainty)
    {
        string text = string.Create(CultureInfo.InvariantCulture,
            $"{(skew >= TimeSpan.Zero ? "+" : "-")}{Math.Abs(skew.TotalSeconds):0.0} s against {endpoint} (±{uncertainty.TotalSeconds:0.0} s; + means this host is ahead)");
        TimeSpan size = skew.Duration();
        if (size > FailBound + uncertainty)
            return CheckResult.Failed(Name, $"{text}: over the {Seconds(FailBound)} s that signed timestamps and deadlines tolerate", NtpFix);
        if (size > WarnBound + uncertainty)
            return CheckResult.Warning(Name, $"{text}: over {Seconds(WarnBound)} s, deadlines are judged that much off", NtpFix);
        return CheckResult.Ok(Name, text);
    }

    private static async Task<(DateTimeOffset? Date, DateTimeOffset Sent, DateTimeOffset Received)> ProbeAsync(Uri endpoint, TimeProvider time, CancellationToken cancellationToken)
    {
        using var handler = new SocketsHttpHandler
        {
            ConnectTimeout = TimeSpan.FromSeconds(2),
            AllowAutoRedirect = false,
            UseProxy = false,
        };
        using var client = new HttpClient(handler, disposeHandler: false) { Timeout = Timeout.InfiniteTimeSpan };
        using var request = new HttpRequestMessage(HttpMethod.Get, endpoint)
        {
            // gRPC servers speak only HTTP/2 (h2c on http://); any answer, even a 404, carries the Date.
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        DateTimeOffset sent = time.GetUtcNow();
        using HttpResponseMessage response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        DateTimeOffset received = time.GetUtcNow();
        HttpResponseHeaders headers = response.Headers;
        return (headers.Date, sent, received);
    }

    private static string OneLine(Exception e)
    {
        string message = e.InnerException is { } inner ? $"{e.Message} ({inner.Message})" : e.Message;
        return message.ReplaceLineEndings(" ");
    }

    private static string Seconds(TimeSpan span) => span.TotalSeconds.ToString("0.#", CultureInfo.InvariantCulture);
}
