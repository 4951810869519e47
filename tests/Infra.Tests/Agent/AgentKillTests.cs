using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using InfraMind.Node.Containers.Engine;
using InfraMind.Node.Containers.Sandbox;
using InfraMind.Node.Crypto;
using InfraMind.Node.Jobs.Intake;
using InfraMind.Node.Receipts;
using InfraMind.Node.Tests.Examples;
using InfraMind.Node.Tests.Support;
using Xunit.Abstractions;
using static InfraMind.Node.Tests.Agent.AgentApi;

namespace InfraMind.Node.Tests.Agent;

/// <summary>
/// Issue #6 acceptance: SIGKILL of the agent at random moments across 50 jobs, then a restart: every finished
/// job's receipt is in the log exactly once, and none is corrupt. The real `infra run` process (INFRA_BIN when
/// set) is killed; jobs not finished when it died are sent again under new ids, as a scheduler would.
/// </summary>
public sealed class AgentKillTests(ITestOutputHelper output)
{
    private const int JobCount = 50;
    private const int KilledRounds = 4;

    [Fact]
    public async Task Every_reported_receipt_is_in_the_log_exactly_once_after_SIGKILLs()
    {
        int seed = Environment.TickCount;
        var random = new Random(seed);
        using var temp = new TempFolder();
        using var scheduler = new SignedJobs();
        using var server = new LocalHttpServer();
        EmbedderBundle bundle = EmbedderArtifacts.Bundle("stdio");
        Uri uri = server.Serve("/embedder-stdio.tar.gz", new LocalHttpServer.Answer(await File.ReadAllBytesAsync(bundle.Archive)));
        Address node;
        using (NodeKey key = IdentityFile.Create(temp["identity.key"], force: false))
            node = key.Address;
        int port = FreePorts.Next();
        string config = temp.Write("config.yaml", $"""
            node:
              identity: {temp["identity.key"]}
              state_dir: {temp["state"]}
            listener:
              bind: 127.0.0.1
              port: {port}
            control:
              socket: {temp["control.sock"]}
            mesh:
              trusted_schedulers:
                - {scheduler.Scheduler}
            runtime:
              engine: docker
              socket: {Engines.DockerSocket}
            registry:
              ipfs_gateways: []
            """);

        // A request may wait as long as a round may (90 s): this test is about the log, and with the full suite and three
        // CPU hogs on two cores one GET of a round's last poll waited past 30 s (the run alone took 25 s a round).
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/"), Timeout = TimeSpan.FromSeconds(90) };
        var open = Enumerable.Range(0, JobCount).ToList();
        var submitted = new HashSet<string>(StringComparer.Ordinal);
        var reported = new Dictionary<string, string>(StringComparer.Ordinal); // job id -> receipt JSON as GET returned it
        var clock = Stopwatch.StartNew();
        var log = new StringBuilder();
        int kills = 0;
        // Every killed round runs even when the jobs finish early (warm jobs got fast enough that all 50 could be
        // reported before the last kill): an idle agent killed and restarted must keep its log intact too.
        for (int round = 0; open.Count > 0 || round < KilledRounds; round++)
        {
            Assert.True(round < 12, $"50 jobs did not finish in 12 rounds ({reported.Count} reported, seed {seed})\n{log}");
            bool kill = round < KilledRounds;
            using Process infra = InfraProcess.Start(temp.Path, null, "run", "--config", config);
            infra.ErrorDataReceived += (_, e) =>
            {
                lock (log)
                    log.AppendLine(e.Data);
            };
            infra.BeginErrorReadLine();
            infra.StandardInput.Close();
            await WaitHealthyAsync(http, infra, log);

            // Each open slot gets a fresh id this round; a slot is done once a receipt was reported for it.
            Dictionary<string, int> ids = open.ToDictionary(slot => $"kill-{slot}-r{round}", slot => slot);
            Task killer = Task.CompletedTask;
            if (kill)
            {
                int after = random.Next(300, 3000);
                killer = Task.Run(async () =>
                {
                    await Task.Delay(after);
                    infra.Kill(); // SIGKILL
                    Interlocked.Increment(ref kills);
                });
            }

            try
            {
                foreach ((string id, int _) in ids)
                {
                    JobRequest job = scheduler.Sign(new JobRequest(id, bundle.ModelHash, uri.ToString(), "", "text", "embedding<float>",
                        $"job {id}", (ulong)DateTimeOffset.UtcNow.AddMinutes(10).ToUnixTimeSeconds(), node, scheduler.Scheduler, []));
                    Answer accepted = await PostAsync(http, SignedJobs.ToJson(job));
                    Assert.True(accepted.Status == HttpStatusCode.Accepted, accepted.Text);
                    submitted.Add(id);
                }

                var pending = new HashSet<string>(ids.Keys, StringComparer.Ordinal);
                var roundClock = Stopwatch.StartNew();
                while (pending.Count > 0)
                {
                    var stuck = new List<string>();
                    foreach (string id in pending.ToList())
                    {
                        Answer state = await GetJobAsync(http, id);
                        Assert.True(state.Status == HttpStatusCode.OK, state.Text);
                        if (!FinalStates.Contains(State(state.Json)))
                        {
                            stuck.Add(state.Text);
                            continue;
                        }

                        Assert.True(State(state.Json) == "succeeded", $"{state.Text}\n{log}");
                        reported.Add(id, state.Json.GetProperty("receipt").GetRawText());
                        open.Remove(ids[id]);
                        pending.Remove(id);
                    }

                    if (roundClock.Elapsed > TimeSpan.FromSeconds(90))
                        Assert.Fail($"{stuck.Count} jobs not final after 90 s (seed {seed}), e.g.\n{string.Join('\n', stuck.Take(3))}\n{log}");
                    await Task.Delay(100);
                }
            }
            catch (Exception e) when (kill && e is HttpRequestException or TaskCanceledException or IOException)
            {
                // The agent died under the requests: what it reported before is what the log must hold.
            }

            await killer;
            if (!infra.HasExited)
                infra.Kill(); // the last round ends with a SIGKILL too, once everything was reported
            await infra.WaitForExitAsync();
            output.WriteLine($"round {round}: {reported.Count}/{JobCount} reported after {clock.Elapsed.TotalSeconds:0.0} s{(kill ? " (killed)" : string.Empty)}");
        }

        output.WriteLine($"seed {seed}: {kills} SIGKILLs, {submitted.Count} jobs submitted, {reported.Count} receipts reported, {clock.Elapsed.TotalSeconds:0.0} s");
        Assert.Equal(KilledRounds, kills);
        Assert.Equal(JobCount, reported.Count);

        // The raw file, record by record: checksums hold and no job has two receipt records.
        byte[] data = await File.ReadAllBytesAsync(Path.Combine(temp["state"], "receipts", ReceiptLog.FileName));
        var records = new Dictionary<string, int>(StringComparer.Ordinal);
        int offset = 0;
        while (offset < data.Length && LogRecord.TryRead(data.AsSpan(offset), out LogRecordKind kind, out ReadOnlySpan<byte> payload, out int size) == LogRecordStatus.Ok)
        {
            if (kind == LogRecordKind.Receipt)
            {
                using JsonDocument doc = JsonDocument.Parse(payload.ToArray());
                string id = doc.RootElement.GetProperty("job_id").GetString()!;
                records[id] = records.GetValueOrDefault(id) + 1;
            }

            offset += size;
        }

        output.WriteLine($"log: {data.Length} bytes, {records.Count} receipts, {LogRecord.EndOfContent(data) - offset} bytes of torn tail");
        Assert.All(records, r => Assert.True(r.Value == 1, $"job {r.Key} has {r.Value} receipt records"));
        Assert.All(records.Keys, id => Assert.Contains(id, submitted));

        // The restart's view: the log opens clean and every reported receipt is there, once, byte for byte.
        using (ReceiptLog receipts = ReceiptLog.Open(Path.Combine(temp["state"], "receipts")))
        {
            Assert.True(receipts.Recovery.MiddleIntact, receipts.Recovery.Describe());
            var byJob = receipts.All.GroupBy(r => r.JobId).ToDictionary(g => g.Key, g => g.ToList());
            foreach ((string id, string json) in reported)
            {
                Assert.True(byJob.TryGetValue(id, out List<SignedReceipt>? found), $"reported receipt of {id} is not in the log");
                SignedReceipt logged = Assert.Single(found!);
                Assert.Equal(json, Encoding.UTF8.GetString(logged.ToJson()));
            }

            foreach (SignedReceipt r in receipts.All)
            {
                Assert.True(SignedReceipt.TryParse(r.ToJson(), out SignedReceipt? again, out ReceiptFormatError error), $"{r.JobId}: {error}");
                Assert.Equal(node, again!.Receipt.Node);
            }
        }

        // A restarted node answers from that log too.
        using (Process infra = InfraProcess.Start(temp.Path, null, "run", "--config", config))
        {
            infra.BeginErrorReadLine();
            infra.StandardInput.Close();
            await WaitHealthyAsync(http, infra, log);
            string anyId = reported.Keys.First();
            Answer answer = await GetJobAsync(http, anyId);
            Assert.Equal(reported[anyId], answer.Json.GetProperty("receipt").GetRawText());
            infra.Kill();
            await infra.WaitForExitAsync();
        }

        await using EngineClient engine = await Engines.ConnectAsync("docker");
        foreach (ContainerSummary c in await engine.ListContainersAsync(SandboxSpec.NodeLabel, node.ToString(), CancellationToken.None))
            await engine.RemoveContainerAsync(c.Id!, CancellationToken.None);
    }

    private static async Task WaitHealthyAsync(HttpClient http, Process infra, StringBuilder log)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            if (infra.HasExited)
            {
                await infra.WaitForExitAsync();
                Assert.Fail($"infra run exited ({infra.ExitCode}) before serving:\n{log}");
            }

            try
            {
                using HttpResponseMessage response = await http.GetAsync("healthz");
                if (response.IsSuccessStatusCode)
                    return;
            }
            catch (HttpRequestException)
            {
            }

            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), $"infra run did not serve /healthz in 60 s:\n{log}");
            await Task.Delay(50);
        }
    }
}
