using InfraMind.Node.Crypto;

namespace InfraMind.Node.Configuration;

/// <summary>
/// The node's settings, one nested class per config.yaml section. Defaults are CONTRACT.md §1's;
/// <see cref="ConfigKeys"/> says how each key is read, and config.yaml documents every one.
/// </summary>
public sealed class NodeConfig
{
    /// <summary>The default EIP-712 chain id: the local development chain. Set the mesh's real one in production.</summary>
    public const ulong DefaultChainId = 31337;

    /// <summary>The default cache budget: the 10 GB that InfraMind's docs ask a node to set aside.</summary>
    public const long DefaultCacheMaxBytes = 10L * 1024 * 1024 * 1024;

    public NodeConfig(HostPaths paths)
    {
        Node = new NodeSection
        {
            Identity = Path.Combine(paths.Home, ".inframind", "identity.key"),
            StateDir = paths.IsRoot ? "/var/lib/inframind" : Path.Combine(paths.Home, ".inframind"),
        };
        Control = new ControlSection
        {
            Socket = paths.IsRoot ? "/run/inframind/control.sock" : Path.Combine(paths.Home, ".inframind", "control.sock"),
        };
    }

    /// <summary>Where the settings came from: a file path, or "built-in defaults".</summary>
    public string Source { get; internal set; } = "built-in defaults";

    public NodeSection Node { get; }

    public ListenerSection Listener { get; } = new();

    public ControlSection Control { get; }

    public MeshSection Mesh { get; } = new();

    public RuntimeSection Runtime { get; } = new();

    public CacheSection Cache { get; } = new();

    public RegistrySection Registry { get; } = new();

    public LogSection Log { get; } = new();

    /// <summary>cache.dir, or its default under node.state_dir when not set.</summary>
    public string CacheDir => Cache.Dir ?? Path.Combine(Node.StateDir, "cache");

    public sealed class NodeSection
    {
        public required string Identity { get; set; }

        public string Region { get; set; } = "unknown";

        public required string StateDir { get; set; }
    }

    public sealed class ListenerSection
    {
        public string Bind { get; set; } = "0.0.0.0";

        public int Port { get; set; } = 9000;
    }

    public sealed class ControlSection
    {
        public required string Socket { get; set; }
    }

    public sealed class MeshSection
    {
        public IReadOnlyList<Uri> Endpoints { get; set; } = [];

        public IReadOnlyList<Address> TrustedSchedulers { get; set; } = [];

        public ulong ChainId { get; set; } = DefaultChainId;

        /// <summary>Connected but given no job for this long: flagged in status and metrics.</summary>
        public ulong IdleAlertSeconds { get; set; } = 600;

        /// <summary>Dial plus welcome, per scheduler attempt.</summary>
        public ulong ConnectTimeoutSeconds { get; set; } = 10;
    }

    public sealed class RuntimeSection
    {
        public EngineChoice Engine { get; set; } = EngineChoice.Auto;

        /// <summary>The engine's API socket; null means detect it (docker's, then podman's).</summary>
        public string? Socket { get; set; }
    }

    public sealed class CacheSection
    {
        /// <summary>null means <c>{node.state_dir}/cache</c>.</summary>
        public string? Dir { get; set; }

        public long MaxBytes { get; set; } = DefaultCacheMaxBytes;
    }

    public sealed class RegistrySection
    {
        /// <summary>Trustless gateways (IPFS HTTP gateway spec, CAR responses), tried in order.</summary>
        public IReadOnlyList<Uri> IpfsGateways { get; set; } =
        [
            new("https://trustless-gateway.link"),
            new("https://ipfs.io"),
        ];
    }

    public sealed class LogSection
    {
        /// <summary>The least severe lines written: info gives one line a job, debug every state a job passes through.</summary>
        public LogLevel Level { get; set; } = LogLevel.Info;
    }
}

/// <summary>How much <c>infra run</c> writes to stderr (the journal under systemd), least to most severe.</summary>
public enum LogLevel
{
    Debug,
    Info,
    Warn,
    Error,
}

public enum EngineChoice
{
    Auto,
    Docker,
    Podman,
}

/// <summary>Who the process runs as and where its home is: the facts the defaults depend on.</summary>
public sealed record HostPaths(string Home, bool IsRoot)
{
    public static HostPaths Current() =>
        From(Environment.GetEnvironmentVariable("HOME"), Environment.IsPrivilegedProcess,
            static () => Environment.GetFolderPath(Environment.SpecialFolder.UserProfile));

    /// <summary>
    /// HOME when set. Without it root's home is /root, taken without asking the user database: the static binary's
    /// glibc would dlopen the NSS modules /etc/nsswitch.conf names (libnss_systemd), which crashes a static process.
    /// Anyone else's comes from the user database, and no home at all is a clear error, not paths relative to the
    /// working folder.
    /// </summary>
    internal static HostPaths From(string? home, bool isRoot, Func<string> userDatabaseHome)
    {
        if (string.IsNullOrEmpty(home))
            home = isRoot ? "/root" : userDatabaseHome();
        if (string.IsNullOrEmpty(home))
            ThrowHelper.ThrowConfiguration("HOME is not set and this user has no home folder in the user database (/etc/passwd); set HOME to a writable folder, where the node keeps ~/.inframind");
        return new HostPaths(home, isRoot);
    }

    /// <summary>Expands a leading <c>~/</c> to the home folder, as operators write paths in config files.</summary>
    public string Expand(string path) =>
        path == "~" ? Home : path.StartsWith("~/", StringComparison.Ordinal) ? Path.Combine(Home, path[2..]) : path;
}
