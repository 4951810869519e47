namespace InfraMind.Node.Cli;

/// <summary>An option a command takes: a flag (<see cref="ValueName"/> null) or one with a value.</summary>
public sealed record OptionSpec(string Name, string? ValueName, string Help);

/// <summary>One `infra` command: its name, help and handler.</summary>
public sealed record CommandSpec(string Name, string Summary, string Usage, IReadOnlyList<OptionSpec> Options, Func<ParsedArguments, int> Run)
{
    /// <summary>True for a command that takes arguments after its options (after `--`).</summary>
    public bool TakesArguments { get; init; }
}

/// <summary>The options given to one command, checked against its spec.</summary>
public sealed class ParsedArguments
{
    private readonly Dictionary<string, string?> _options;

    private ParsedArguments(Dictionary<string, string?> options, IReadOnlyList<string> positionals)
    {
        _options = options;
        Positionals = positionals;
    }

    public IReadOnlyList<string> Positionals { get; }

    public bool Has(string option) => _options.ContainsKey(option);

    public string? Value(string option) => _options.GetValueOrDefault(option);

    /// <summary>
    /// Reads `--name value`, `--name=value` and flags. Hand-written because the grammar is this small: a parser
    /// library would add size to the binary for nothing (README, "Dependencies" has the measurement).
    /// </summary>
    public static ParsedArguments Parse(CommandSpec command, ReadOnlySpan<string> args)
    {
        var options = new Dictionary<string, string?>(StringComparer.Ordinal);
        var positionals = new List<string>();
        for (int i = 0; i < args.Length; i++)
        {
            string arg = args[i];
            if (arg == "--")
            {
                positionals.AddRange(args[(i + 1)..]);
                break;
            }

            if (!arg.StartsWith('-') || arg == "-")
            {
                positionals.Add(arg);
                continue;
            }

            string name = arg;
            string? inlineValue = null;
            int equals = arg.IndexOf('=', StringComparison.Ordinal);
            if (equals > 0)
            {
                name = arg[..equals];
                inlineValue = arg[(equals + 1)..];
            }

            if (name == "-h")
                name = "--help";
            OptionSpec? spec = command.Options.FirstOrDefault(o => o.Name == name);
            if (spec is null)
                ThrowHelper.ThrowUsage($"infra {command.Name}: unknown option '{name}'; see `infra {command.Name} --help`");
            if (options.ContainsKey(name))
                ThrowHelper.ThrowUsage($"infra {command.Name}: option {name} is given twice; keep one");

            if (spec.ValueName is null)
            {
                if (inlineValue is not null)
                    ThrowHelper.ThrowUsage($"infra {command.Name}: option {name} takes no value");
                options[name] = null;
                continue;
            }

            string? value = inlineValue;
            if (value is null)
            {
                if (i + 1 >= args.Length || (args[i + 1].StartsWith("--", StringComparison.Ordinal) && args[i + 1].Length > 2))
                    ThrowHelper.ThrowUsage($"infra {command.Name}: option {name} needs a value ({name} {spec.ValueName})");
                value = args[++i];
            }

            if (value.Length == 0)
                ThrowHelper.ThrowUsage($"infra {command.Name}: option {name} needs a non-empty value ({name} {spec.ValueName})");
            options[name] = value;
        }

        return new ParsedArguments(options, positionals);
    }
}
