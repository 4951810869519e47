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

            // `infra run` serves until told to stop: read its log up to "ready", then SIGTERM it (a clean drain, exit 0).
            env["INFRAMIND_LISTENER_BIND"] = "127.0.0.1";
            env["INFRAMIND_NODE_STATE_DIR"] = temp["state"]; // as root the defaults are /var/lib/inframind and /run/inframind
            env["INFRAMIND_CONTROL_SOCKET"] = temp["control.sock"];
            env["INFRAMIND_LISTENER_PORT"] = FreePorts.Next().ToString(System.Globalization.CultureInfo.InvariantCulture);
            using Process restart = InfraProcess.Start(temp.Path, env, "run");
            var log = new System.Text.StringBuilder();
            using (var ready = new CancellationTokenSource(TimeSpan.FromSeconds(60)))
            {
                while (await restart.StandardError.ReadLineAsync(ready.Token) is { } line)
                {
                    log.AppendLine(line);
                    if (line == "info: ready")
                        break;
                }
            }

            Assert.Contains("removed 1 orphaned job container(s)", log.ToString(), StringComparison.Ordinal);
            using (Process term = Process.Start("kill", ["-TERM", restart.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
                await term.WaitForExitAsync();
            using (var stopped = new CancellationTokenSource(TimeSpan.FromSeconds(60)))
                await restart.WaitForExitAsync(stopped.Token);
            Assert.Equal(0, restart.ExitCode);

            List<ContainerSummary> left = await client.ListContainersAsync(SandboxSpec.JobLabel, job, CancellationToken.None);
            Assert.Equal(foreignId, Assert.Single(left).Id);
        }
        finally
        {
            await client.RemoveContainerAsync(foreignId, CancellationToken.None);
        }
    }
}
