using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Grpc.Core;
using InfraMind.Node.Configuration;
using InfraMind.Node.Control;
using InfraMind.Node.Protos.Control;

namespace InfraMind.Node.Cli;

/// <summary>`infra jobs` and `infra jobs watch`: the running agent's jobs, from the control socket.</summary>
public static class JobsCommand
{
    public static readonly CommandSpec Spec = new(
        "jobs",
        "list the running agent's jobs, or watch them change live",
        "infra jobs [--all] [--limit N] [--json] | infra jobs watch [--json]  [--config PATH]\n       infra jobs submit ... (sign and send a job: see `infra jobs submit --help`)",
        [
            new("--all", null, "also list finished jobs (most recent first)"),
            new("--limit", "N", "list at most N jobs"),
            new("--json", null, "print one JSON object per line instead of a table"),
            new("--config", "PATH", "configuration file (control.socket)"),
            new("--help", null, "show this help"),
        ],
        Run)
    {
        TakesArguments = true,
    };

    private static int Run(ParsedArguments args)
    {
        bool watch = args.Positionals.Count > 0;
        if (watch && (args.Positionals[0] != "watch" || args.Positionals.Count > 1))
            ThrowHelper.ThrowUsage($"infra jobs: unexpected argument '{args.Positionals[^1]}'; the only action is `infra jobs watch`");
        uint limit = 0;
        if (args.Value("--limit") is { } text && !uint.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out limit))
            ThrowHelper.ThrowUsage($"infra jobs: --limit expects a whole number, got '{text}'");
        NodeConfig config = Program.LoadConfig(args);
        if (!watch)
            return ListAsync(config.Control.Socket, new ListJobsRequest { Limit = limit, IncludeFinished = args.Has("--all") }, args.Has("--json"), Console.Out, CancellationToken.None).GetAwaiter().GetResult();

        // Ctrl-C ends the watch cleanly (exit 0) instead of killing the process mid-line.
        using var stop = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            stop.Cancel();
        };
        return WatchAsync(config.Control.Socket, args.Has("--json"), Console.Out, stop.Token).GetAwaiter().GetResult();
    }

    internal static async Task<int> ListAsync(string socketPath, ListJobsRequest request, bool json, TextWriter output, CancellationToken cancellationToken)
    {
        using ControlClient control = ControlClient.Open(socketPath);
        ListJobsReply reply;
        try
        {
            reply = await control.Client.ListJobsAsync(request, ControlClient.UnaryOptions(cancellationToken)).ConfigureAwait(false);
        }
        catch (RpcException e)
        {
            control.Fail(e, "infra jobs");
            return 1;
        }

        if (json)
        {
            foreach (JobSummary job in reply.Jobs)
                await output.WriteLineAsync(JsonSerializer.Serialize(JobJson.From(job), JobsJsonContext.Default.JobJson)).ConfigureAwait(false);
            return 0;
        }

        await output.WriteLineAsync($"{"JOB ID",-24} {"STATE",-14} {"SOURCE",-6} {"ACCEPTED",-20} MODEL").ConfigureAwait(false);
        foreach (JobSummary job in reply.Jobs)
            await output.WriteLineAsync($"{job.JobId,-24} {ControlNames.Of(job.State),-14} {job.Source,-6} {Time(job.AcceptedAtMs),-20} {job.ModelHash}").ConfigureAwait(false);
        await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"{reply.Jobs.Count} job(s)")).ConfigureAwait(false);
        return 0;
    }

    /// <summary>Prints each event as it arrives until the agent ends the stream or the token fires.</summary>
    internal static async Task<int> WatchAsync(string socketPath, bool json, TextWriter output, CancellationToken cancellationToken)
    {
        using ControlClient control = ControlClient.Open(socketPath);
        try
        {
            // No deadline: a watch is meant to stay open.
            using AsyncServerStreamingCall<JobEvent> call = control.Client.WatchJobs(new WatchJobsRequest { IncludeActive = true }, cancellationToken: cancellationToken);
            while (await call.ResponseStream.MoveNext(cancellationToken).ConfigureAwait(false))
            {
                JobEvent e = call.ResponseStream.Current;
                string line = json
                    ? JsonSerializer.Serialize(JobEventJson.From(e), JobsJsonContext.Default.JobEventJson)
                    : FormatEvent(e);
                await output.WriteLineAsync(line).ConfigureAwait(false);
                await output.FlushAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.Cancelled && cancellationToken.IsCancellationRequested)
        {
            return 0; // Ctrl-C
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return 0;
        }
        catch (RpcException e)
        {
            control.Fail(e, "infra jobs watch");
        }

        return 0;
    }

    internal static string FormatEvent(JobEvent e)
    {
        JobSummary job = e.Job ?? new JobSummary();
        string change = e.PreviousState == JobState.Unspecified
            ? ControlNames.Of(job.State)
            : $"{ControlNames.Of(e.PreviousState)} -> {ControlNames.Of(job.State)}";
        string detail = job.Detail.Length > 0 ? $"  ({job.Detail})" : "";
        return $"{Time(e.TimestampMs)}  {job.JobId}  {change}  {job.ModelHash}{detail}";
    }

    private static string Time(ulong unixMs) => unixMs == 0
        ? "-"
        : DateTimeOffset.FromUnixTimeMilliseconds((long)Math.Min(unixMs, 253402300799999UL)).ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);
}

internal sealed record JobJson(string JobId, string State, string ModelHash, string Source, ulong AcceptedAtMs, ulong StartedAtMs, ulong FinishedAtMs, ulong Deadline, string Detail)
{
    public static JobJson From(JobSummary j) =>
        new(j.JobId, ControlNames.Of(j.State), j.ModelHash, j.Source, j.AcceptedAtMs, j.StartedAtMs, j.FinishedAtMs, j.Deadline, j.Detail);
}

internal sealed record JobEventJson(ulong TimestampMs, string PreviousState, JobJson Job)
{
    public static JobEventJson From(JobEvent e) =>
        new(e.TimestampMs, ControlNames.Of(e.PreviousState), JobJson.From(e.Job ?? new JobSummary()));
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(JobJson))]
[JsonSerializable(typeof(JobEventJson))]
internal sealed partial class JobsJsonContext : JsonSerializerContext;
