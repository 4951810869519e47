using InfraMind.Node.Containers.Engine;
using InfraMind.Node.Containers.Sandbox;
using InfraMind.Node.Hardware;

namespace InfraMind.Node.Containers.Runs;

/// <summary>
/// The steps every run mode shares: create the sandboxed container (replacing one left by an interrupted
/// run of the same job), prove its cgroup limits before it gets any input, and clean up without failing.
/// </summary>
public sealed class SandboxLauncher(EngineClient engine, string procRoot = "/proc", string cgroupRoot = "/sys/fs/cgroup")
{
    public EngineClient Engine => engine;

    public async Task<string> CreateAsync(string name, ContainerCreateRequest request, CancellationToken cancellationToken)
    {
        try
        {
            return await engine.CreateContainerAsync(name, request, cancellationToken).ConfigureAwait(false);
        }
        catch (EngineException e) when (e.Error == EngineError.Conflict)
        {
            // A container of this name is left from an interrupted run of the same job: replace it.
            await engine.RemoveContainerAsync(name, cancellationToken).ConfigureAwait(false);
            return await engine.CreateContainerAsync(name, request, cancellationToken).ConfigureAwait(false);
        }
        catch (EngineException e) when (e.Error == EngineError.ImageMissing)
        {
            throw new SandboxException(RunFailure.ImageMissing, $"image {request.Image} is not in the engine: {e.Message}", e);
        }
        catch (EngineException e) when (e.Error is EngineError.Unreachable or EngineError.Timeout)
        {
            throw new SandboxException(RunFailure.EngineUnreachable, e.Message, e);
        }
    }

    /// <summary>
    /// Reads the running container's cgroup and refuses it when a limit is not as asked. A container that
    /// exited before its cgroup could be read (it never read stdin) has seen no input: it runs on unverified,
    /// with no usage figures. One still running whose cgroup cannot be read is refused: fail closed.
    /// </summary>
    public async Task<ContainerCgroup?> VerifyLimitsAsync(SandboxSpec spec, ContainerInspectResponse started, CancellationToken cancellationToken)
    {
        int pid = started.State?.Pid ?? 0;
        if (pid <= 0 || started.State?.Running != true)
            return null;

        // A process on its way out is moved to the root cgroup before it becomes a zombie, so a reading that
        // shows no limits is taken again a moment later: by then it has exited (no input was given) or the
        // reading stands and the container is refused.
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                ContainerCgroup cgroup = ContainerCgroup.Locate(pid, procRoot, cgroupRoot);
                CgroupLimits limits = cgroup.ReadLimits();
                if (limits.CompareTo(spec.ExpectedLimits).Count == 0)
                    return cgroup;
                if (await ExitedAsync(started.Id!, pid, cancellationToken).ConfigureAwait(false))
                    return null;
                if (attempt == 3)
                {
                    SandboxVerifier.Check(started.Id!, limits, spec.ExpectedLimits);
                    return cgroup;
                }
            }
            catch (Errors.InfraException e)
            {
                if (await ExitedAsync(started.Id!, pid, cancellationToken).ConfigureAwait(false))
                    return null;
                if (attempt == 3)
                    throw new SandboxException(RunFailure.LimitsNotInForce, $"container {started.Id} refused: its cgroup could not be read ({e.Message})", e);
            }

            await Task.Delay(50 * attempt, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>True when the container's process is gone or a zombie, or the engine says it stopped.</summary>
    private async Task<bool> ExitedAsync(string id, int pid, CancellationToken cancellationToken)
    {
        try
        {
            // /proc/PID/stat: "pid (comm) S ..."; the state letter follows the last ')'.
            string stat = await File.ReadAllTextAsync(Path.Combine(procRoot, pid.ToString(System.Globalization.CultureInfo.InvariantCulture), "stat"), cancellationToken).ConfigureAwait(false);
            int close = stat.LastIndexOf(')');
            if (close < 0 || close + 2 >= stat.Length || stat[close + 2] is 'Z' or 'X')
                return true;
        }
        catch (IOException)
        {
            return true;
        }

        ContainerInspectResponse now = await engine.InspectContainerAsync(id, cancellationToken).ConfigureAwait(false);
        return now.State?.Running != true;
    }

    public async Task KillQuietlyAsync(string id)
    {
        try
        {
            await engine.KillContainerAsync(id, "KILL", CancellationToken.None).ConfigureAwait(false);
        }
        catch (EngineException)
        {
            // Removal below forces it anyway.
        }
    }

    public async Task RemoveQuietlyAsync(string id)
    {
        try
        {
            await engine.RemoveContainerAsync(id, CancellationToken.None).ConfigureAwait(false);
        }
        catch (EngineException)
        {
            // The reconciler's sweep removes what is left.
        }
    }
}
