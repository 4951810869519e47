using System.Collections;
using InfraMind.Node.Errors;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace InfraMind.Node.Configuration;

/// <summary>
/// Loads config.yaml (CONTRACT.md §1): the file from --config, else /etc/inframind/config.yaml, else
/// ~/.inframind/config.yaml, else built-in defaults; then INFRAMIND_SECTION_KEY variables override single keys.
/// The YAML is read with YamlDotNet's event parser (no reflection, so it is safe under native AOT), and only
/// the shape the node uses is accepted: sections of keys whose values are scalars or lists of scalars.
/// </summary>
public static class ConfigLoader
{
    public const string EnvironmentPrefix = "INFRAMIND_";

    /// <summary>A configuration file larger than this is not a configuration file.</summary>
    public const int MaxFileBytes = 1 << 20;

    /// <summary>The list of files tried when no --config is given, in order.</summary>
    public static IReadOnlyList<string> DefaultLocations(HostPaths host) =>
        ["/etc/inframind/config.yaml", Path.Combine(host.Home, ".inframind", "config.yaml")];

    /// <summary>Loads the configuration as `infra` does at startup.</summary>
    public static NodeConfig Load(string? explicitPath, HostPaths host, IDictionary environment)
    {
        var config = new NodeConfig(host);
        string? path = explicitPath;
        if (path is not null)
        {
            path = host.Expand(path);
            if (!File.Exists(path))
                ThrowHelper.ThrowConfiguration($"config file {path} does not exist; fix: check the --config path, or leave --config out to use the defaults");
        }
        else
        {
            path = DefaultLocations(host).FirstOrDefault(File.Exists);
        }

        if (path is not null)
        {
            ApplyYaml(config, ReadFile(path), Path.GetFileName(path), host);
            config.Source = path;
        }

        ApplyEnvironment(config, environment, host);
        return config;
    }

    /// <summary>Applies YAML text to <paramref name="config"/>; <paramref name="fileName"/> labels error messages.</summary>
    public static void ApplyYaml(NodeConfig config, string yaml, string fileName, HostPaths host)
    {
        CheckCharacters(yaml, fileName);
        var parser = new Parser(new StringReader(yaml));
        try
        {
            new YamlReader(parser, config, fileName, host).ReadStream();
        }
        catch (YamlException e)
        {
            ThrowHelper.ThrowConfiguration($"{fileName} line {e.Start.Line}: not valid YAML ({FirstLine(e.Message)}); fix the syntax there");
        }
    }

    /// <summary>Applies every INFRAMIND_SECTION_KEY variable; any other INFRAMIND_ variable is an error, as a typo would be.</summary>
    public static void ApplyEnvironment(NodeConfig config, IDictionary environment, HostPaths host)
    {
        var names = new List<string>();
        foreach (DictionaryEntry entry in environment)
        {
            // INFRAMIND_NVML_LIBRARY picks a native library, not a configuration key: it is read where NVML is loaded.
            if (entry.Key is string name && name.StartsWith(EnvironmentPrefix, StringComparison.Ordinal)
                && name != Hardware.Nvml.GpuProbe.LibraryVariable)
            {
                names.Add(name);
            }
        }

        names.Sort(StringComparer.Ordinal);
        foreach (string name in names)
        {
            ConfigKey? key = ConfigKeys.All.FirstOrDefault(k => k.EnvironmentVariable == name);
            if (key is null)
            {
                ThrowHelper.ThrowConfiguration(
                    $"environment variable {name} is not a configuration key; fix: unset it, or use one of {string.Join(", ", ConfigKeys.All.Select(k => k.EnvironmentVariable))}");
            }

            string text = environment[name] as string ?? string.Empty;
            string where = $"environment variable {name} ({key.FullName})";
            bool isList = key.Expects.StartsWith("a list", StringComparison.Ordinal);
            ConfigValue value = isList
                ? new ConfigValue(null, text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries), where)
                : new ConfigValue(text, null, where);
            key.Apply(config, value, host);
        }
    }

    /// <summary>
    /// Catches what the YAML parser reports poorly: control bytes (a binary file, a bad copy) and tab
    /// indentation, which YamlDotNet blames on line 1.
    /// </summary>
    private static void CheckCharacters(string yaml, string fileName)
    {
        int line = 1;
        bool atLineStart = true;
        foreach (char c in yaml)
        {
            if (c == '\n')
            {
                line++;
                atLineStart = true;
                continue;
            }

            if (c == '\t' && atLineStart)
                ThrowHelper.ThrowConfiguration($"{fileName} line {line}: indented with a tab; fix: YAML indents with spaces only");
            if (char.IsControl(c) && c is not ('\t' or '\r'))
                ThrowHelper.ThrowConfiguration($"{fileName} line {line}: contains the control character U+{(int)c:X4}; fix: the file must be plain UTF-8 text");
            if (c != ' ' && c != '\t')
                atLineStart = false;
        }
    }

    private static string ReadFile(string path)
    {
        try
        {
            var info = new FileInfo(path);
            if (info.Length > MaxFileBytes)
                ThrowHelper.ThrowConfiguration($"config file {path} is {info.Length} bytes, over the {MaxFileBytes}-byte limit; fix: point --config at the real configuration file");
            return File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InfraException(FailureKind.Configuration, $"cannot read config file {path}: {e.Message}; fix: check its permissions or the --config path", e);
        }
    }

    private static string FirstLine(string message)
    {
        int end = message.IndexOfAny(['\r', '\n']);
        return end < 0 ? message : message[..end];
    }

    /// <summary>Walks the parser's events; every error names the line it found the problem on.</summary>
    private sealed class YamlReader(IParser parser, NodeConfig config, string fileName, HostPaths host)
    {
        private readonly HashSet<string> _seen = [];

        public void ReadStream()
        {
            parser.Consume<StreamStart>();
            if (parser.TryConsume<StreamEnd>(out _))
                return;
            parser.Consume<DocumentStart>();

            // An empty document (only comments) means "all defaults".
            if (parser.Accept<Scalar>(out Scalar? empty) && empty.Value.Length == 0 && empty.Style == ScalarStyle.Plain)
                parser.MoveNext();
            else
                ReadRoot();

            parser.Consume<DocumentEnd>();
            if (parser.Current is DocumentStart extra)
                Fail(extra, "holds a second YAML document; fix: keep one document in the file");
            parser.Consume<StreamEnd>();
        }

        private void ReadRoot()
        {
            MappingStart root = ExpectMapping("the top level", "sections such as node: and mesh:");
            while (!parser.TryConsume<MappingEnd>(out _))
            {
                Scalar section = ExpectKey();
                if (!ConfigKeys.Sections.Contains(section.Value))
                    Fail(section, $"unknown section '{section.Value}'; fix: use one of {string.Join(", ", ConfigKeys.Sections)}");
                if (!_seen.Add(section.Value))
                    Fail(section, $"section '{section.Value}' appears twice; fix: merge the two into one");

                if (parser.Accept<Scalar>(out Scalar? nothing) && nothing.Value.Length == 0 && nothing.Style == ScalarStyle.Plain)
                {
                    parser.MoveNext(); // "mesh:" with nothing under it leaves the section at its defaults.
                    continue;
                }

                ExpectMapping($"section '{section.Value}'", "keys indented under it");
                ReadSection(section.Value);
            }

            _ = root;
        }

        private void ReadSection(string section)
        {
            while (!parser.TryConsume<MappingEnd>(out _))
            {
                Scalar name = ExpectKey();
                ConfigKey? key = ConfigKeys.Find(section, name.Value);
                if (key is null)
                {
                    string known = string.Join(", ", ConfigKeys.All.Where(k => k.Section == section).Select(k => k.Name));
                    Fail(name, $"unknown key '{section}.{name.Value}'; fix: the keys of {section} are {known}");
                }

                if (!_seen.Add(key.FullName))
                    Fail(name, $"key '{key.FullName}' appears twice; fix: keep one");

                string where = $"{fileName} line {name.Start.Line}: {key.FullName}";
                ConfigValue value = ReadValue(key, where);

                // Empty plain values ("port:") keep the default, so a commented template can be filled in gradually.
                if (value.Scalar is { Length: 0 } && value.Items is null && !key.Expects.StartsWith("a list", StringComparison.Ordinal))
                    continue;
                key.Apply(config, value, host);
            }
        }

        private ConfigValue ReadValue(ConfigKey key, string where)
        {
            if (parser.Current is AnchorAlias alias)
                Fail(alias, $"{key.FullName} uses a YAML alias; fix: write the value out");
            if (parser.TryConsume<Scalar>(out Scalar? scalar))
                return new ConfigValue(scalar.Value, null, where);
            if (parser.TryConsume<SequenceStart>(out _))
            {
                var items = new List<string>();
                while (!parser.TryConsume<SequenceEnd>(out _))
                {
                    if (parser.Current is Scalar item)
                    {
                        items.Add(item.Value);
                        parser.MoveNext();
                        continue;
                    }

                    Fail(parser.Current!, $"{key.FullName} must be a list of plain values, not nested lists or maps; fix: expected {key.Expects}");
                }

                return new ConfigValue(null, items, where);
            }

            Fail(parser.Current!, $"{key.FullName} has the wrong type; fix: expected {key.Expects}");
            return default;
        }

        private Scalar ExpectKey()
        {
            if (parser.Current is Scalar key)
            {
                parser.MoveNext();
                return key;
            }

            Fail(parser.Current!, "a key must be a plain name; fix: write 'name: value'");
            return null!;
        }

        private MappingStart ExpectMapping(string what, string expected)
        {
            if (parser.Current is MappingStart mapping)
            {
                parser.MoveNext();
                return mapping;
            }

            Fail(parser.Current!, $"{what} must be a map of {expected}");
            return null!;
        }

        [System.Diagnostics.CodeAnalysis.DoesNotReturn]
        private void Fail(ParsingEvent at, string message) =>
            ThrowHelper.ThrowConfiguration($"{fileName} line {at.Start.Line}: {message}");
    }
}
