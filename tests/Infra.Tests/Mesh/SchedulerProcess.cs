using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using InfraMind.Node.Crypto;
using InfraMind.Node.Tests.Receipts;

namespace InfraMind.Node.Tests.Mesh;

/// <summary>One event from the scheduler's GET /admin/events.</summary>
public sealed record SeenEvent(string Kind, long AtMs, int Conn, string? Node, string? JobId, bool? Valid, string? Detail, double? LatencyMs);

/// <summary>tools/Scheduler run as a child process on fixed ports, so a test can kill it and start it again.</summary>
public sealed class SchedulerProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly HttpClient _admin;

    private SchedulerProcess(Process process, int adminPort, Address address)
    {
        _process = process;
        Address = address;
        _admin = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{adminPort}") };
    }

    public Address Address { get; }


    public static async Task<SchedulerProcess> StartAsync(string dir, int port, int adminPort, uint heartbeatMs, params string[] extra)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string arg in (string[])[SchedulerDll(), "--port", $"{port}", "--admin-port", $"{adminPort}", "--key", Path.Combine(dir, "scheduler.key"),
            "--receipts", Path.Combine(dir, "receipts.jsonl"), "--heartbeat-ms", $"{heartbeatMs}", .. extra])
            start.ArgumentList.Add(arg);
        Process process = Process.Start(start)!;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (await process.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
        {
            if (line.StartsWith("scheduler ", StringComparison.Ordinal) && Address.TryParse(line.Split(' ')[1], out Address address))
            {
                _ = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
                _ = process.StandardError.ReadToEndAsync(CancellationToken.None);
                return new SchedulerProcess(process, adminPort, address);
            }
        }

        string error = await process.StandardError.ReadToEndAsync(CancellationToken.None);
        throw new InvalidOperationException($"the scheduler did not start: {error}");
    }

    public async Task<SeenEvent[]> EventsAsync()
    {
        byte[] body = await _admin.GetByteArrayAsync("/admin/events");
        using JsonDocument doc = JsonDocument.Parse(body);
        return doc.RootElement.EnumerateArray().Select(e => new SeenEvent(
            e.GetProperty("kind").GetString()!,
            e.GetProperty("at_ms").GetInt64(),
            e.GetProperty("conn").GetInt32(),
            e.TryGetProperty("node", out JsonElement n) ? n.GetString() : null,
            e.TryGetProperty("job_id", out JsonElement j) ? j.GetString() : null,
            e.TryGetProperty("valid", out JsonElement v) ? v.GetBoolean() : null,
            e.TryGetProperty("detail", out JsonElement d) ? d.GetString() : null,
            e.TryGetProperty("latency_ms", out JsonElement l) ? l.GetDouble() : null)).ToArray();
    }

    /// <summary>Waits until an event matching <paramref name="match"/> is recorded; fails the test after <paramref name="within"/>.</summary>
    public async Task<SeenEvent> WaitForAsync(Func<SeenEvent, bool> match, TimeSpan within, string what)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < within)
        {
            SeenEvent? found = (await EventsAsync()).FirstOrDefault(match);
            if (found is not null)
                return found;
            await Task.Delay(25);
        }

        throw new Xunit.Sdk.XunitException($"the scheduler did not see {what} within {within.TotalSeconds} s; it saw: "
            + string.Join(", ", (await EventsAsync()).Select(e => $"{e.Kind}/{e.JobId}/{e.Detail}")));
    }

    public async Task PostAsync(string path, string json = "{}")
    {
        using var content = new StringContent(json, Encoding.UTF8, "application/json");
        using HttpResponseMessage response = await _admin.PostAsync(path, content);
        string body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"POST {path}: {(int)response.StatusCode} {body}");
    }

    public async Task KillAsync()
    {
        _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
    }

    public async ValueTask DisposeAsync()
    {
        _admin.Dispose();
        if (!_process.HasExited)
            await KillAsync();
        _process.Dispose();
    }

    private static string SchedulerDll()
    {
        string root = ReceiptSamples.RepositoryRoot();
        string relative = Path.GetRelativePath(Path.Combine(root, "tests", "Infra.Tests"), AppContext.BaseDirectory);
        string path = Path.Combine(root, "tools", "Scheduler", relative, "inframind-scheduler.dll");
        return File.Exists(path) ? path : throw new FileNotFoundException("build tests/Infra.Tests first; it builds tools/Scheduler", path);
    }
}
