using System.Diagnostics;
using InfraMind.Node.Containers.Engine;
using InfraMind.Node.Containers.Sandbox;
using InfraMind.Node.Hardware;

namespace InfraMind.Node.Containers.Runs;

/// <summary>Caps for one run.</summary>
public sealed record RunLimits(DateTimeOffset Deadline, int MaxStdoutBytes = 16 << 20, int MaxStderrBytes = 64 << 10);

/// <summary>
/// Runs a `protocol: stdio` model: a fresh sandboxed container per job; the input goes to stdin, which is
/// then closed; stdout (capped) is the output, stderr is kept apart for the log. The container's cgroup is
/// checked after start and before any input is written, so a container whose limits are not in force never
/// sees the job's data.
/// </summary>
public sealed class StdioRunner(EngineClient engine, string procRoot = "/proc", string cgroupRoot = "/sys/fs/cgroup")
{
    private readonly SandboxLauncher _launcher = new(engine, procRoot, cgroupRoot);

    public async Task<RunResult> RunAsync(SandboxSpec spec, ReadOnlyMemory<byte> input, RunLimits limits, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        ContainerCreateRequest request = spec.ToCreateRequest(stdin: true);
        string name = spec.ContainerName(request);
        string id = await _launcher.CreateAsync(name, request, cancellationToken).ConfigureAwait(false);

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        TimeSpan left = limits.Deadline - DateTimeOffset.UtcNow;
        deadline.CancelAfter(left > TimeSpan.Zero ? left : TimeSpan.Zero);
        try
        {
            await using ContainerAttachment attachment = await engine.AttachAsync(id, deadline.Token).ConfigureAwait(false);
            await engine.StartContainerAsync(id, deadline.Token).ConfigureAwait(false);

            ContainerInspectResponse started = await engine.InspectContainerAsync(id, deadline.Token).ConfigureAwait(false);
            ContainerCgroup? cgroup = await _launcher.VerifyLimitsAsync(spec, started, deadline.Token).ConfigureAwait(false);

            var stdout = new CappedBuffer(limits.MaxStdoutBytes);
            var stderr = new CappedBuffer(limits.MaxStderrBytes);
            Task reading = attachment.ReadOutputAsync(stdout, stderr, deadline.Token);
            Task<long> waiting = engine.WaitContainerAsync(id, deadline.Token);
            await attachment.WriteInputAndCloseAsync(input, deadline.Token).ConfigureAwait(false);

            // Sample usage while the container runs: its cgroup disappears with it.
            CgroupUsage? usage = null;
            while (!waiting.IsCompleted && cgroup is not null)
            {
                usage = Sample(cgroup, usage);
                await Task.WhenAny(waiting, Task.Delay(25, deadline.Token)).ConfigureAwait(false);
            }

            long exitCode = await waiting.ConfigureAwait(false);
            await reading.ConfigureAwait(false);
            ContainerInspectResponse finished = await engine.InspectContainerAsync(id, cancellationToken).ConfigureAwait(false);

            RunFailure? failure = Classify(spec, exitCode, finished, stdout);
            return new RunResult(id, started.Image ?? string.Empty, exitCode, stdout.ToArray(), stderr.ToArray(), stdout.TotalBytes, failure, usage, clock.Elapsed)
            {
                LimitsVerified = cgroup is not null,
            };
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            await _launcher.KillQuietlyAsync(id).ConfigureAwait(false);
            return new RunResult(id, string.Empty, -1, [], [], 0, RunFailure.Deadline, null, clock.Elapsed);
        }
        finally
        {
            await _launcher.RemoveQuietlyAsync(id).ConfigureAwait(false);
        }
    }

    internal static CgroupUsage? Sample(ContainerCgroup cgroup, CgroupUsage? previous)
    {
        try
        {
            CgroupUsage now = cgroup.ReadUsage();
            return previous is null ? now : now with
            {
                PeakMemoryBytes = Math.Max(now.PeakMemoryBytes ?? 0, previous.PeakMemoryBytes ?? 0),
                OomKills = Math.Max(now.OomKills, previous.OomKills),
            };
        }
        catch (Errors.InfraException)
        {
            return previous; // the cgroup went away between two samples: keep the last reading
        }
    }

    private static RunFailure? Classify(SandboxSpec spec, long exitCode, ContainerInspectResponse finished, CappedBuffer stdout)
    {
        // Podman reports OOMKilled false even after a kernel OOM kill; SIGKILL (137) of a memory-limited
        // container that nobody killed is the kernel's OOM killer.
        bool oom = finished.State?.OOMKilled == true || (exitCode == 137 && spec.Resources.MemoryBytes > 0);
        if (oom)
            return RunFailure.OomKilled;
        if (exitCode != 0)
            return RunFailure.NonZeroExit;
        if (stdout.Overflowed)
            return RunFailure.OutputTooLarge;
        return null;
    }
}
