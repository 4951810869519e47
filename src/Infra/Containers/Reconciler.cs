using InfraMind.Node.Containers.Engine;
using InfraMind.Node.Containers.Sandbox;
using InfraMind.Node.Crypto;

namespace InfraMind.Node.Containers;

/// <summary>
/// Finds the containers this node made (label inframind.node = its address) and removes those no live job
/// owns: at start, after a crash or SIGKILL left some behind, and periodically for any that slip through.
/// Containers of other nodes sharing the engine, and anything without the label, are never touched.
/// </summary>
public sealed class Reconciler(EngineClient engine, Address node)
{
    /// <summary>Removes this node's containers whose job is not in <paramref name="liveJobs"/>; returns their ids.</summary>
    public async Task<IReadOnlyList<string>> SweepAsync(IReadOnlySet<string> liveJobs, CancellationToken cancellationToken)
    {
        List<ContainerSummary> ours = await engine.ListContainersAsync(SandboxSpec.NodeLabel, node.ToString(), cancellationToken).ConfigureAwait(false);
        var removed = new List<string>();
        foreach (ContainerSummary container in ours)
        {
            string? job = container.Labels?.GetValueOrDefault(SandboxSpec.JobLabel);
            if (container.Id is null || (job is not null && liveJobs.Contains(job)))
                continue;
            await engine.RemoveContainerAsync(container.Id, cancellationToken).ConfigureAwait(false);
            removed.Add(container.Id);
        }

        return removed;
    }

    /// <summary>Sweeps every <paramref name="interval"/> until cancelled; a failed sweep is reported and retried.</summary>
    public async Task RunPeriodicallyAsync(Func<IReadOnlySet<string>> liveJobs, TimeSpan interval, Action<Exception>? onError, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(interval);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                try
                {
                    await SweepAsync(liveJobs(), cancellationToken).ConfigureAwait(false);
                }
                catch (EngineException e)
                {
                    onError?.Invoke(e);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Stopped with the agent.
        }
    }
}
