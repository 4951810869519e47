using System.Globalization;
using InfraMind.Node.Crypto;

namespace InfraMind.Node.Configuration;

/// <summary>A value as found in config.yaml or the environment, with where it was found for error messages.</summary>
public readonly record struct ConfigValue(string? Scalar, IReadOnlyList<string>? Items, string Where);

/// <summary>One configuration key: its section, name, the type it takes (for messages) and how it is applied.</summary>
public sealed record ConfigKey(string Section, string Name, string Expects, Action<NodeConfig, ConfigValue, HostPaths> Apply)
{
    public string FullName => $"{Section}.{Name}";

    /// <summary>The environment variable that overrides this key, e.g. INFRAMIND_MESH_TRUSTED_SCHEDULERS.</summary>
    public string EnvironmentVariable => $"INFRAMIND_{Section.ToUpperInvariant()}_{Name.ToUpperInvariant()}";
}

/// <summary>Every key the node reads. Adding a key here is all it takes for the file, the environment and errors.</summary>
public static class ConfigKeys
{
    public static readonly IReadOnlyList<ConfigKey> All =
    [
        new("node", "identity", "a file path", (c, v, h) => c.Node.Identity = PathValue(v, h)),
        new("node", "region", "a region name such as europe-west", (c, v, _) => c.Node.Region = Text(v, "a region name")),
        new("node", "state_dir", "a folder path", (c, v, h) => c.Node.StateDir = PathValue(v, h)),
        new("listener", "bind", "an IP address such as 0.0.0.0 or 127.0.0.1", (c, v, _) => c.Listener.Bind = IpAddress(v)),
        new("listener", "port", "a TCP port from 1 to 65535", (c, v, _) => c.Listener.Port = (int)Integer(v, 1, 65535, "a TCP port from 1 to 65535")),
        new("control", "socket", "a socket file path", (c, v, h) => c.Control.Socket = PathValue(v, h)),
        new("mesh", "endpoints", "a list of http:// or https:// scheduler URLs", (c, v, _) => c.Mesh.Endpoints = UrlList(v)),
        new("mesh", "trusted_schedulers", "a list of 0x addresses", (c, v, _) => c.Mesh.TrustedSchedulers = AddressList(v)),
        new("mesh", "chain_id", "a positive integer (EIP-712 chain id)", (c, v, _) => c.Mesh.ChainId = Integer(v, 1, ulong.MaxValue, "a positive integer (EIP-712 chain id)")),
        new("mesh", "idle_alert_seconds", "a number of seconds from 1 to 604800", (c, v, _) => c.Mesh.IdleAlertSeconds = Integer(v, 1, 604800, "a number of seconds from 1 to 604800")),
        new("mesh", "connect_timeout_seconds", "a number of seconds from 1 to 300", (c, v, _) => c.Mesh.ConnectTimeoutSeconds = Integer(v, 1, 300, "a number of seconds from 1 to 300")),
        new("runtime", "engine", "one of auto, docker, podman", (c, v, _) => c.Runtime.Engine = Engine(v)),
        new("runtime", "socket", "a socket file path, or empty to detect", (c, v, h) => c.Runtime.Socket = OptionalPath(v, h)),
        new("cache", "dir", "a folder path", (c, v, h) => c.Cache.Dir = OptionalPath(v, h)),
        new("cache", "max_bytes", "a size such as 10Gi, 500Mi or 20000000000", (c, v, _) => c.Cache.MaxBytes = Size(v)),
        new("registry", "ipfs_gateways", "a list of http:// or https:// gateway URLs", (c, v, _) => c.Registry.IpfsGateways = UrlList(v)),
        new("log", "level", "one of debug, info, warn, error", (c, v, _) => c.Log.Level = Level(v)),
    ];

    public static IEnumerable<string> Sections => All.Select(k => k.Section).Distinct();

    public static ConfigKey? Find(string section, string name) =>
        All.FirstOrDefault(k => k.Section == section && k.Name == name);

    private static string Scalar(ConfigValue value, string expects)
    {
        if (value.Scalar is null)
            ThrowHelper.ThrowConfiguration($"{value.Where}: expected {expects}, got a list");
        return value.Scalar;
    }

    private static string Text(ConfigValue value, string expects)
    {
        string text = Scalar(value, expects);
        if (text.Length == 0 || text.Length > 256 || text.Any(char.IsControl))
            ThrowHelper.ThrowConfiguration($"{value.Where}: expected {expects} (1 to 256 printable characters)");
        return text;
    }

    private static string PathValue(ConfigValue value, HostPaths host)
    {
        string path = Scalar(value, "a path");
        if (path.Length == 0 || path.Contains('\0', StringComparison.Ordinal))
            ThrowHelper.ThrowConfiguration($"{value.Where}: expected a path, got '{path}'");
        return host.Expand(path);
    }

    private static string? OptionalPath(ConfigValue value, HostPaths host) =>
        Scalar(value, "a path").Length == 0 ? null : PathValue(value, host);

    private static ulong Integer(ConfigValue value, ulong min, ulong max, string expects)
    {
        string text = Scalar(value, expects);
        if (!ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out ulong number) || number < min || number > max)
            ThrowHelper.ThrowConfiguration($"{value.Where}: expected {expects}, got '{text}'");
        return number;
    }

    private static string IpAddress(ConfigValue value)
    {
        string text = Scalar(value, "an IP address");
        if (!System.Net.IPAddress.TryParse(text, out _))
            ThrowHelper.ThrowConfiguration($"{value.Where}: expected an IP address such as 0.0.0.0 or ::, got '{text}'");
        return text;
    }

    private static EngineChoice Engine(ConfigValue value) => Scalar(value, "an engine name") switch
    {
        "auto" => EngineChoice.Auto,
        "docker" => EngineChoice.Docker,
        "podman" => EngineChoice.Podman,
        var other => ThrowHelper.ThrowConfiguration<EngineChoice>($"{value.Where}: expected one of auto, docker, podman, got '{other}'"),
    };

    private static LogLevel Level(ConfigValue value) => Scalar(value, "a log level") switch
    {
        "debug" => LogLevel.Debug,
        "info" => LogLevel.Info,
        "warn" => LogLevel.Warn,
        "error" => LogLevel.Error,
        var other => ThrowHelper.ThrowConfiguration<LogLevel>($"{value.Where}: expected one of debug, info, warn, error, got '{other}'"),
    };

    private static long Size(ConfigValue value)
    {
        string text = Scalar(value, "a size");
        if (!ByteSize.TryParse(text, out long bytes) || bytes <= 0)
            ThrowHelper.ThrowConfiguration($"{value.Where}: expected a size such as 10Gi, 500Mi or 20000000000, got '{text}'");
        return bytes;
    }

    private static IReadOnlyList<string> Items(ConfigValue value, string expects)
    {
        if (value.Items is not null)
            return value.Items;
        if (value.Scalar is { Length: 0 })
            return [];
        ThrowHelper.ThrowConfiguration($"{value.Where}: expected {expects}, got a single value; write it as a list, e.g. [\"{value.Scalar}\"]");
        return [];
    }

    private static List<Uri> UrlList(ConfigValue value)
    {
        var urls = new List<Uri>();
        foreach (string item in Items(value, "a list of URLs"))
        {
            if (!Uri.TryCreate(item, UriKind.Absolute, out Uri? uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
                ThrowHelper.ThrowConfiguration($"{value.Where}: '{item}' is not an http:// or https:// URL");
            urls.Add(uri);
        }

        return urls;
    }

    private static List<Address> AddressList(ConfigValue value)
    {
        var addresses = new List<Address>();
        foreach (string item in Items(value, "a list of 0x addresses"))
        {
            if (!Address.TryParse(item, out Address address, out AddressError error))
            {
                string why = error == AddressError.Checksum
                    ? "its mixed-case checksum (EIP-55) is wrong: check for a typo, or write it all in lowercase"
                    : "an address is 0x followed by 40 hex digits";
                ThrowHelper.ThrowConfiguration($"{value.Where}: '{item}' is not a valid address; {why}");
            }

            addresses.Add(address);
        }

        return addresses;
    }
}
