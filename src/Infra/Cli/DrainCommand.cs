using System.Globalization;
using Grpc.Core;
using InfraMind.Node.Configuration;
using InfraMind.Node.Control;
using InfraMind.Node.Protos.Control;

namespace InfraMind.Node.Cli;

/// <summary>`infra drain`: the running agent stops taking jobs and finishes the ones it has (before a restart).</summary>
public static class DrainCommand
{
    public static readonly CommandSpec Spec = new(
        "drain",
        "stop taking new jobs; the accepted ones run to the end",
        "infra drain [--resume] [--config PATH]",
        [
            new("--resume", null, "take jobs again"),
            new("--config", "PATH", "configuration file (control.socket)"),
            new("--help", null, "show this help"),
        ],
        Run);

    private static int Run(ParsedArguments args)
    {
        NodeConfig config = Program.LoadConfig(args);
        return RunAsync(config.Control.Socket, args.Has("--resume"), Console.Out, CancellationToken.None).GetAwaiter().GetResult();
    }

    internal static async Task<int> RunAsync(string socketPath, bool resume, TextWriter output, CancellationToken cancellationToken)
    {
        using ControlClient control = ControlClient.Open(socketPath);
        DrainReply reply;
        try
        {
            reply = await control.Client.DrainAsync(new DrainRequest { Resume = resume }, ControlClient.UnaryOptions(cancellationToken)).ConfigureAwait(false);
        }
        catch (RpcException e)
        {
            control.Fail(e, "infra drain");
            return 1;
        }

        await output.WriteLineAsync(reply.Draining
            ? string.Create(CultureInfo.InvariantCulture, $"draining: new jobs are refused; {reply.ActiveJobs} running and {reply.QueuedJobs} queued job(s) will finish (`infra jobs watch` follows them)")
            : "taking jobs again").ConfigureAwait(false);
        return 0;
    }
}
