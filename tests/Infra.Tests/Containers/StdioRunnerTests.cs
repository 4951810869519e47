using System.Text;
using InfraMind.Node.Containers.Engine;
using InfraMind.Node.Containers.Runs;
using InfraMind.Node.Containers.Sandbox;
using InfraMind.Node.Tests.Support;

namespace InfraMind.Node.Tests.Containers;

/// <summary>
/// stdio runs in the real sandbox on both engines, with the probe image: what the contract's sandbox
/// promises is checked from inside the container.
/// </summary>
public class StdioRunnerTests
{
    private static readonly ResourceRequest Small = new(64L << 20, 500);

    [Theory]
    [MemberData(nameof(Engines.Both), MemberType = typeof(Engines))]
    public async Task Input_goes_to_stdin_and_stdout_comes_back_with_stderr_apart(string engine)
    {
        RunResult result = await RunAsync(engine, ["echo"], "hello, sandbox");
        Assert.True(result.Succeeded, Describe(result));
        Assert.Equal("hello, sandbox", Encoding.UTF8.GetString(result.Stdout));
        Assert.Contains("echoed 14 bytes", Encoding.UTF8.GetString(result.Stderr), StringComparison.Ordinal);
        Assert.StartsWith("sha256:", result.ImageId, StringComparison.Ordinal);
        Assert.True(result.LimitsVerified, "the cgroup limits were not checked before the input went in");
        Assert.NotNull(result.Usage);
        Assert.True(result.Usage.CpuMicros >= 0);
    }

    [Theory]
    [MemberData(nameof(Engines.Both), MemberType = typeof(Engines))]
    public async Task Megabytes_of_binary_input_round_trip_exactly(string engine)
    {
        byte[] input = new byte[3 << 20];
        new Random(7).NextBytes(input);
        RunResult result = await RunAsync(engine, ["echo"], input);
        Assert.True(result.Succeeded, Describe(result));
        Assert.Equal(input, result.Stdout);
    }

    [Theory]
    [MemberData(nameof(Engines.Both), MemberType = typeof(Engines))]
    public async Task The_container_has_only_loopback_and_reaches_nothing(string engine)
    {
        RunResult result = await RunAsync(engine, ["net"], "");
        string output = Encoding.UTF8.GetString(result.Stdout);
        Assert.Contains("interfaces: lo\n", output, StringComparison.Ordinal);
        Assert.Contains("connect: Network is unreachable", output, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Engines.Both), MemberType = typeof(Engines))]
    public async Task Allocating_past_the_memory_limit_is_reported_oom_killed(string engine)
    {
        RunResult result = await RunAsync(engine, ["alloc", "128"], "", Small);
        Assert.Equal(RunFailure.OomKilled, result.Failure);
        Assert.Equal(137, result.ExitCode);
    }

    [Theory]
    [MemberData(nameof(Engines.Both), MemberType = typeof(Engines))]
    public async Task Allocating_under_the_limit_succeeds_and_peak_memory_is_measured(string engine)
    {
        RunResult result = await RunAsync(engine, ["alloc", "24"], "", Small);
        Assert.True(result.Succeeded, Describe(result));
        Assert.True(result.Usage?.PeakMemoryBytes is null or > 0);
    }

    [Theory]
    [MemberData(nameof(Engines.Both), MemberType = typeof(Engines))]
    public async Task A_fork_bomb_stops_at_the_pids_limit(string engine)
    {
        RunResult result = await RunAsync(engine, ["forkbomb", "2000"], "", Small, spec => spec with { PidsLimit = 40 });
        string output = Encoding.UTF8.GetString(result.Stdout);
        Assert.Matches(@"forked (\d+), then Resource temporarily unavailable", output);
        int forked = int.Parse(System.Text.RegularExpressions.Regex.Match(output, @"forked (\d+)").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(forked, 1, 40);
    }

    [Theory]
    [MemberData(nameof(Engines.Both), MemberType = typeof(Engines))]
    public async Task The_root_filesystem_is_read_only(string engine)
    {
        RunResult result = await RunAsync(engine, ["writeroot"], "");
        Assert.Equal("writeroot: Read-only file system", Encoding.UTF8.GetString(result.Stdout).Trim());
    }

    [Theory]
    [MemberData(nameof(Engines.Both), MemberType = typeof(Engines))]
    public async Task Tmp_is_writable_but_capped(string engine)
    {
        RunResult result = await RunAsync(engine, ["writetmp", "16"], "", Small, spec => spec with { TmpBytes = 4L << 20 });
        Assert.Equal("writetmp: wrote 4 MiB, then No space left on device", Encoding.UTF8.GetString(result.Stdout).Trim());
    }

    [Theory]
    [MemberData(nameof(Engines.Both), MemberType = typeof(Engines))]
    public async Task A_non_zero_exit_is_reported_with_its_code(string engine)
    {
        RunResult result = await RunAsync(engine, ["exit", "3"], "");
        Assert.Equal(RunFailure.NonZeroExit, result.Failure);
        Assert.Equal(3, result.ExitCode);
    }

    [Theory]
    [MemberData(nameof(Engines.Both), MemberType = typeof(Engines))]
    public async Task Output_over_the_cap_is_cut_and_reported(string engine)
    {
        RunResult result = await RunAsync(engine, ["flood", "3"], "", limits: new RunLimits(DateTimeOffset.UtcNow.AddMinutes(1), MaxStdoutBytes: 1 << 20));
        Assert.Equal(RunFailure.OutputTooLarge, result.Failure);
        Assert.Equal(1 << 20, result.Stdout.Length);
        Assert.Equal(3L << 20, result.StdoutBytes);
    }

    [Theory]
    [MemberData(nameof(Engines.Both), MemberType = typeof(Engines))]
    public async Task The_deadline_kills_the_container_and_nothing_is_left(string engine)
    {
        string job = $"deadline-{Guid.NewGuid():N}";
        RunResult result = await RunAsync(engine, ["sleep", "60"], "", job: job, limits: new RunLimits(DateTimeOffset.UtcNow.AddSeconds(2)));
        Assert.Equal(RunFailure.Deadline, result.Failure);
        Assert.True(result.Elapsed < TimeSpan.FromSeconds(30), $"took {result.Elapsed}");
        await using EngineClient client = await Engines.ConnectAsync(engine);
        Assert.Empty(await client.ListContainersAsync(SandboxSpec.JobLabel, job, CancellationToken.None));
    }

    [Theory]
    [MemberData(nameof(Engines.Both), MemberType = typeof(Engines))]
    public async Task Capabilities_are_dropped_and_privileges_cannot_be_gained(string engine)
    {
        RunResult result = await RunAsync(engine, ["caps"], "");
        string status = Encoding.UTF8.GetString(result.Stdout);
        Assert.Matches(@"CapEff:\s+0000000000000000", status);
        Assert.Matches(@"CapPrm:\s+0000000000000000", status);
        Assert.Matches(@"CapBnd:\s+0000000000000000", status);
        Assert.Matches(@"NoNewPrivs:\s+1", status);
    }

    [Theory]
    [MemberData(nameof(Engines.Both), MemberType = typeof(Engines))]
    public async Task The_engine_records_the_sandbox_as_asked(string engine)
    {
        await using EngineClient client = await Engines.ConnectAsync(engine);
        var spec = new SandboxSpec(Engines.ProbeImage, $"inspect-{Guid.NewGuid():N}", EngineClientTests.TestNode, Small);
        ContainerCreateRequest request = spec.ToCreateRequest(stdin: true);
        string id = await client.CreateContainerAsync(spec.ContainerName(request), request, CancellationToken.None);
        try
        {
            HostConfig host = (await client.InspectContainerAsync(id, CancellationToken.None)).HostConfig!;
            Assert.Contains(host.SecurityOpt!, o => o.StartsWith("no-new-privileges", StringComparison.Ordinal));
            Assert.True(host.ReadonlyRootfs);
            Assert.Equal("none", host.NetworkMode);
            Assert.Equal(64L << 20, host.Memory);
            Assert.Equal(64L << 20, host.MemorySwap);
            Assert.Equal(500_000_000, host.NanoCpus);
        }
        finally
        {
            await client.RemoveContainerAsync(id, CancellationToken.None);
        }
    }

    private static Task<RunResult> RunAsync(string engine, string[] command, string input, ResourceRequest? resources = null, Func<SandboxSpec, SandboxSpec>? adjust = null, RunLimits? limits = null, string? job = null) =>
        RunAsync(engine, command, Encoding.UTF8.GetBytes(input), resources, adjust, limits, job);

    private static async Task<RunResult> RunAsync(string engine, string[] command, byte[] input, ResourceRequest? resources = null, Func<SandboxSpec, SandboxSpec>? adjust = null, RunLimits? limits = null, string? job = null)
    {
        await using EngineClient client = await Engines.ConnectAsync(engine);
        var spec = new SandboxSpec(Engines.ProbeImage, job ?? $"test-{Guid.NewGuid():N}", EngineClientTests.TestNode, resources ?? ResourceRequest.Default) { Command = command };
        spec = adjust?.Invoke(spec) ?? spec;
        var runner = new StdioRunner(client);
        return await runner.RunAsync(spec, input, limits ?? new RunLimits(DateTimeOffset.UtcNow.AddMinutes(1)), CancellationToken.None);
    }

    private static string Describe(RunResult result) =>
        $"failure {result.Failure}, exit {result.ExitCode}, stderr: {Encoding.UTF8.GetString(result.Stderr)}";
}
