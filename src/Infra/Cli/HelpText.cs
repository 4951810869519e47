using System.Text;

namespace InfraMind.Node.Cli;

/// <summary>The --help pages, written from the command specs so they cannot drift from what is parsed.</summary>
public static class HelpText
{
    public static string ForProgram(IReadOnlyList<CommandSpec> commands)
    {
        var text = new StringBuilder();
        text.AppendLine("infra: the InfraMind compute node");
        text.AppendLine();
        text.AppendLine("Usage: infra <command> [options]");
        text.AppendLine();
        text.AppendLine("Commands:");
        foreach (CommandSpec command in commands)
            text.Append("  ").Append(command.Name.PadRight(10)).AppendLine(command.Summary);
        text.AppendLine();
        text.AppendLine("Run `infra <command> --help` for a command's options.");
        text.AppendLine("Exit codes: 0 success, 1 runtime failure, 2 usage or configuration error.");
        return text.ToString();
    }

    public static string ForCommand(CommandSpec command)
    {
        var text = new StringBuilder();
        text.Append("infra ").Append(command.Name).Append(": ").AppendLine(command.Summary);
        text.AppendLine();
        text.Append("Usage: ").AppendLine(command.Usage);
        if (command.Options.Count > 0)
        {
            text.AppendLine();
            text.AppendLine("Options:");
            foreach (OptionSpec option in command.Options)
            {
                string left = option.ValueName is null ? option.Name : $"{option.Name} {option.ValueName}";
                text.Append("  ").Append(left.PadRight(22)).AppendLine(option.Help);
            }
        }

        return text.ToString();
    }
}
