using System.Globalization;
using InfraMind.Node.Configuration;
using InfraMind.Node.Containers;
using InfraMind.Node.Containers.Engine;
using InfraMind.Node.Containers.Runs;
using InfraMind.Node.Containers.Sandbox;
using InfraMind.Node.Crypto;

namespace InfraMind.Node.Cli;

/// <summary>
/// `infra sandbox`: runs one command of an image in exactly the sandbox jobs get, with stdin as its input,
/// so an operator or a model author can see how an image behaves under the node's limits.
/// </summary>
public static class SandboxCommand
{
    public static readonly CommandSpec Spec = new(
        "sandbox",
        "run an image's command in the job sandbox, stdin as input",
        "infra sandbox --image IMAGE [--memory 512Mi] [--cpus 1000m] [--pids 256] [--timeout 60] [--job ID] [--config PATH] [-- COMMAND ARGS...]",
        [
            new("--image", "IMAGE", "the image to run (already in the engine)"),
            new("--memory", "SIZE", "memory limit, no swap on top (default 512Mi)"),
            new("--cpus", "CPUS", "CPU limit: millicores (1500m) or CPUs (1.5) (default 1000m)"),
            new("--pids", "N", "process limit (default 256)"),
            new("--timeout", "SECONDS", "kill the container after this long (default 60)"),
            new("--job", "ID", "job id for the container's labels and name (default: sandbox-<time>)"),
            new("--config", "PATH", "configuration file (engine and identity)"),
            new("--help", null, "show this help"),
        ],
        Run)
    {
        TakesArguments = true,
    };

    private static int Run(ParsedArguments args)
    {
        string image = args.Value("--image") ?? ThrowHelper.ThrowConfiguration<string>("infra sandbox: --image is required");
        long memory = ParseOr(args.Value("--memory"), 512L << 20, ByteSize.TryParse, "--memory", "a size such as 512Mi");
        long cpus = ParseOr(args.Value("--cpus"), 1000, CpuQuantity.TryParse, "--cpus", "millicores such as 1500m, or CPUs such as 1.5");
        long pids = ParseOr(args.Value("--pids"), 256, TryParsePositive, "--pids", "a positive number");
        long timeout = ParseOr(args.Value("--timeout"), 60, TryParsePositive, "--timeout", "seconds, a positive number");
        string job = args.Value("--job") ?? $"sandbox-{DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()}";

        NodeConfig config = Program.LoadConfig(args);
        HostPaths host = HostPaths.Current();
        using NodeKey key = IdentityFile.Load(config.Node.Identity);
        byte[] input = Console.IsInputRedirected ? ReadAll(Console.OpenStandardInput()) : [];

        return RunAsync().GetAwaiter().GetResult();

        async Task<int> RunAsync()
        {
            await using EngineClient engine = await EngineLocator.ConnectAsync(config, host, CancellationToken.None).ConfigureAwait(false);
            var spec = new SandboxSpec(image, job, key.Address, new ResourceRequest(memory, cpus))
            {
                Command = args.Positionals.Count > 0 ? args.Positionals : null,
                PidsLimit = pids,
            };
            RunResult result;
            try
            {
                result = await new StdioRunner(engine).RunAsync(spec, input, new RunLimits(DateTimeOffset.UtcNow.AddSeconds(timeout)), CancellationToken.None).ConfigureAwait(false);
            }
            catch (SandboxException e)
            {
                ThrowHelper.ThrowRuntime($"{e.Message} ({e.Failure})");
                return 1;
            }

            await using (Stream stdout = Console.OpenStandardOutput())
                await stdout.WriteAsync(result.Stdout).ConfigureAwait(false);
            await using (Stream stderr = Console.OpenStandardError())
                await stderr.WriteAsync(result.Stderr).ConfigureAwait(false);

            string usage = result.Usage is { } u
                ? $", cpu {u.CpuMicros / 1000} ms, peak memory {ByteSize.Format(u.PeakMemoryBytes ?? 0)}"
                : string.Empty;
            string verified = result.LimitsVerified ? "limits verified in the cgroup" : "exited before its cgroup was read";
            await Console.Error.WriteLineAsync($"sandbox: {result.Failure?.ToString() ?? "succeeded"}, exit {result.ExitCode}, {result.Elapsed.TotalMilliseconds:0} ms, {verified}{usage}");
            return result.Failure switch
            {
                null => 0,
                RunFailure.NonZeroExit => (int)Math.Clamp(result.ExitCode, 1, 255),
                _ => 1,
            };
        }
    }

    private delegate bool TryParse(ReadOnlySpan<char> text, out long value);

    private static long ParseOr(string? text, long fallback, TryParse parse, string option, string expected)
    {
        if (text is null)
            return fallback;
        if (!parse(text, out long value) || value <= 0)
            ThrowHelper.ThrowUsage($"infra sandbox: {option} expects {expected}, got '{text}'");
        return value;
    }

    private static bool TryParsePositive(ReadOnlySpan<char> text, out long value) =>
        long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value);

    private static byte[] ReadAll(Stream stream)
    {
        using var buffer = new MemoryStream();
        stream.CopyTo(buffer);
        return buffer.ToArray();
    }
}
