using System.Diagnostics;
using InfraMind.Node.Containers.Engine;
using InfraMind.Node.Containers.Sandbox;
using InfraMind.Node.Tests.Support;

namespace InfraMind.Node.Tests.Containers;

/// <summary>An agent killed mid-run leaves its container; the next start removes it, and only it.</summary>
public class OrphanTests
{
    [Theory]
    [MemberData(nameof(Engines.Both), MemberType = typeof(Engines))]
    public async Task Killing_the_agent_mid_run_then_starting_it_again_leaves_no_orphan(string engine)
    {
        using var temp = new TempFolder();
        var env = new Dictionary<string, string> { ["INFRAMIND_RUNTIME_ENGINE"] = engine };
        Assert.Equal(0, InfraProcess.Run(temp.Path, env, "init", "--keygen").ExitCode);
        string job = $"orphan-{Guid.NewGuid():N}";
        await using EngineClient client = await Engines.ConnectAsync(engine);

        // Another node's container on the same engine must survive the sweep.
        var foreign = new SandboxSpec(Engines.ProbeImage, job, EngineClientTests.TestNode, ResourceRequest.Default) { Command = ["sleep", "60"] };
        ContainerCreateRequest foreignRequest = foreign.ToCreateRequest(stdin: false);
        string foreignId = await client.CreateContainerAsync(foreign.ContainerName(foreignRequest) + "-other", foreignRequest, CancellationToken.None);
        try
        {
            using Process agent = InfraProcess.Start(temp.Path, env, "sandbox", "--image", Engines.ProbeImage, "--job", job, "--", "sleep", "60");
            agent.StandardInput.Close();
            string? ours = null;
            for (int i = 0; i < 100 && ours is null; i++)
            {
                await Task.Delay(200);
                ours = (await client.ListContainersAsync(SandboxSpec.JobLabel, job, CancellationToken.None))
                    .FirstOrDefault(c => c.Id != foreignId && c.State == "running")?.Id;
            }

            Assert.NotNull(ours);
            agent.Kill(); // SIGKILL: no cleanup runs
            await agent.WaitForExitAsync();
            Assert.Contains(await client.ListContainersAsync(SandboxSpec.JobLabel, job, CancellationToken.None), c => c.Id == ours);

            InfraProcess.Result restart = InfraProcess.Run(temp.Path, env, "run");
            Assert.Contains("removed 1 orphaned job container(s)", restart.StdErr, StringComparison.Ordinal);

            List<ContainerSummary> left = await client.ListContainersAsync(SandboxSpec.JobLabel, job, CancellationToken.None);
            Assert.Equal(foreignId, Assert.Single(left).Id);
        }
        finally
        {
            await client.RemoveContainerAsync(foreignId, CancellationToken.None);
        }
    }
}
