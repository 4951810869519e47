using InfraMind.Node.Cli;
using InfraMind.Node.Configuration;
using InfraMind.Node.Errors;

namespace InfraMind.Node;

public static class Program
{
    public static IReadOnlyList<CommandSpec> Commands { get; } =
    [
        InitCommand.Spec,
        RunCommand.Spec,
        StatusCommand.Spec,
        JobsCommand.Spec,
        DrainCommand.Spec,
        ReceiptsCommand.Spec,
        DoctorCommand.Spec,
        SandboxCommand.Spec,
        CacheCommand.Spec,
        VersionCommand.Spec,
    ];

    /// <summary>Two-word commands (`infra jobs submit`, `infra receipts ls`), each with its own options and help.</summary>
    public static IReadOnlyList<CommandSpec> Subcommands { get; } = [JobSubmitCommand.Spec, .. ReceiptsCommand.Subcommands];

    public static int Main(string[] args)
    {
        try
        {
            return Dispatch(args);
        }
        catch (InfraException e)
        {
            // Messages from a command already name it ("infra init: …"); others get the program's name.
            Console.Error.WriteLine(e.Message.StartsWith("infra ", StringComparison.Ordinal) ? e.Message : $"infra: {e.Message}");
            return e.ExitCode;
        }
    }

    /// <summary>Loads the configuration the way every command does: --config, default files, environment.</summary>
    internal static NodeConfig LoadConfig(ParsedArguments args) =>
        ConfigLoader.Load(args.Value("--config"), HostPaths.Current(), Environment.GetEnvironmentVariables());

    private static int Dispatch(string[] args)
    {
        if (args.Length == 0 || args[0] is "--help" or "-h" or "help")
        {
            if (args.Length > 1 && args[0] == "help")
                return ShowCommandHelp(string.Join(' ', args[1..]));
            TextWriter writer = args.Length == 0 ? Console.Error : Console.Out;
            writer.Write(HelpText.ForProgram(Commands));
            return args.Length == 0 ? 2 : 0;
        }

        if (args[0] is "--version" or "-V")
            return VersionCommand.Spec.Run(ParsedArguments.Parse(VersionCommand.Spec, []));

        CommandSpec? command = args.Length > 1 ? Subcommands.FirstOrDefault(c => c.Name == $"{args[0]} {args[1]}") : null;
        int skip = command is null ? 1 : 2;
        command ??= Commands.FirstOrDefault(c => c.Name == args[0]);
        if (command is null)
            ThrowHelper.ThrowUsage($"unknown command '{args[0]}'; the commands are {string.Join(", ", Commands.Select(c => c.Name))} (see `infra --help`)");

        ParsedArguments parsed = ParsedArguments.Parse(command, args.AsSpan(skip));
        if (parsed.Has("--help"))
        {
            Console.Out.Write(HelpText.ForCommand(command));
            return 0;
        }

        if (parsed.Positionals.Count > 0 && !command.TakesArguments)
            ThrowHelper.ThrowUsage($"infra {command.Name}: unexpected argument '{parsed.Positionals[0]}'; see `infra {command.Name} --help`");
        return command.Run(parsed);
    }

    private static int ShowCommandHelp(string name)
    {
        CommandSpec? command = Subcommands.FirstOrDefault(c => c.Name == name) ?? Commands.FirstOrDefault(c => c.Name == name);
        if (command is null)
            ThrowHelper.ThrowUsage($"unknown command '{name}'; the commands are {string.Join(", ", Commands.Select(c => c.Name))}");
        Console.Out.Write(HelpText.ForCommand(command));
        return 0;
    }
}
