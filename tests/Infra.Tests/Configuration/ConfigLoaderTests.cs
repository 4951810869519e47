using System.Collections;
using InfraMind.Node.Configuration;
using InfraMind.Node.Errors;
using InfraMind.Node.Tests.Support;

namespace InfraMind.Node.Tests.Configuration;

public class ConfigLoaderTests
{
    private static readonly HostPaths User = new("/home/op", IsRoot: false);
    private static readonly HostPaths Root = new("/root", IsRoot: true);

    [Fact]
    public void Built_in_defaults_follow_the_contract()
    {
        NodeConfig user = ConfigLoader.Load(null, User, new Hashtable());
        Assert.Equal("/home/op/.inframind/identity.key", user.Node.Identity);
        Assert.Equal("unknown", user.Node.Region);
        Assert.Equal("/home/op/.inframind", user.Node.StateDir);
        Assert.Equal("0.0.0.0", user.Listener.Bind);
        Assert.Equal(9000, user.Listener.Port);
        Assert.Equal("/home/op/.inframind/control.sock", user.Control.Socket);
        Assert.Empty(user.Mesh.Endpoints);
        Assert.Empty(user.Mesh.TrustedSchedulers);
        Assert.Equal(NodeConfig.DefaultChainId, user.Mesh.ChainId);
        Assert.Equal(EngineChoice.Auto, user.Runtime.Engine);
        Assert.Null(user.Runtime.Socket);
        Assert.Equal("/home/op/.inframind/cache", user.CacheDir);
        Assert.NotEmpty(user.Registry.IpfsGateways);
        Assert.Equal(LogLevel.Info, user.Log.Level);

        NodeConfig root = ConfigLoader.Load(null, Root, new Hashtable());
        Assert.Equal("/var/lib/inframind", root.Node.StateDir);
        Assert.Equal("/run/inframind/control.sock", root.Control.Socket);
        Assert.Equal("/var/lib/inframind/cache", root.CacheDir);
    }

    [Fact]
    public void The_shipped_config_yaml_loads_and_states_the_defaults()
    {
        string shipped = Path.Combine(RepoRoot(), "config.yaml");
        var config = new NodeConfig(Root);
        ConfigLoader.ApplyYaml(config, File.ReadAllText(shipped), "config.yaml", Root);
        var defaults = new NodeConfig(Root);
        Assert.Equal(defaults.Listener.Port, config.Listener.Port);
        Assert.Equal(defaults.Mesh.ChainId, config.Mesh.ChainId);
        Assert.Equal(defaults.Cache.MaxBytes, config.Cache.MaxBytes);
        Assert.Equal(defaults.Registry.IpfsGateways, config.Registry.IpfsGateways);
        Assert.Equal(defaults.Node.Region, config.Node.Region);
        Assert.Equal(defaults.Log.Level, config.Log.Level);

        // Every key the node reads is documented in the shipped file.
        string text = File.ReadAllText(shipped);
        foreach (ConfigKey key in ConfigKeys.All)
            Assert.Matches($"(?m)^\\s*#?\\s*{key.Name}:", text);
    }

    [Fact]
    public void A_full_file_sets_every_key()
    {
        const string yaml = """
            # comments are fine
            node:
              identity: ~/keys/node.key
              region: europe-west
              state_dir: /srv/inframind
            listener:
              bind: 127.0.0.1
              port: 9100
            control:
              socket: /tmp/control.sock
            mesh:
              endpoints: ["https://scheduler-a.example:7443", "http://127.0.0.1:7000"]
              trusted_schedulers:
                - 0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf
                - 0x2b5ad5c4795c026514f8317c7a215e218dccd6cf
              chain_id: 8453
            runtime:
              engine: podman
              socket: /run/podman/podman.sock
            cache:
              dir: /var/cache/inframind
              max_bytes: 20Gi
            registry:
              ipfs_gateways: [http://127.0.0.1:8080]
            log:
              level: debug
            """;
        NodeConfig config = Apply(yaml);
        Assert.Equal("/home/op/keys/node.key", config.Node.Identity);
        Assert.Equal("europe-west", config.Node.Region);
        Assert.Equal("/srv/inframind", config.Node.StateDir);
        Assert.Equal("127.0.0.1", config.Listener.Bind);
        Assert.Equal(9100, config.Listener.Port);
        Assert.Equal("/tmp/control.sock", config.Control.Socket);
        Assert.Equal(2, config.Mesh.Endpoints.Count);
        Assert.Equal("0x2B5AD5c4795c026514f8317c7a215E218DcCD6cF", config.Mesh.TrustedSchedulers[1].ToString());
        Assert.Equal(8453UL, config.Mesh.ChainId);
        Assert.Equal(EngineChoice.Podman, config.Runtime.Engine);
        Assert.Equal("/run/podman/podman.sock", config.Runtime.Socket);
        Assert.Equal("/var/cache/inframind", config.CacheDir);
        Assert.Equal(20L << 30, config.Cache.MaxBytes);
        Assert.Equal("http://127.0.0.1:8080/", Assert.Single(config.Registry.IpfsGateways).ToString());
        Assert.Equal(LogLevel.Debug, config.Log.Level);
    }

    [Theory]
    [InlineData("node:\n  regoin: eu\n", 2, "unknown key 'node.regoin'")]
    [InlineData("listener:\n  port: 9000\nnodes:\n  region: eu\n", 3, "unknown section 'nodes'")]
    [InlineData("listener:\n  bind: 0.0.0.0\n  port: abc\n", 3, "listener.port")]
    [InlineData("listener:\n  port: 70000\n", 2, "a TCP port from 1 to 65535")]
    [InlineData("listener:\n  port: -1\n", 2, "a TCP port")]
    [InlineData("listener:\n  port: [1, 2]\n", 2, "got a list")]
    [InlineData("mesh:\n  chain_id: 0\n", 2, "chain id")]
    [InlineData("mesh:\n  chain_id: 18446744073709551616\n", 2, "chain id")]
    [InlineData("mesh:\n  trusted_schedulers: 0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf\n", 2, "write it as a list")]
    [InlineData("mesh:\n  trusted_schedulers: [0x7E5F4552091A69125d5DfCb7b8C2659029395BdF]\n", 2, "checksum")]
    [InlineData("mesh:\n  trusted_schedulers: [0x1234]\n", 2, "0x followed by 40 hex")]
    [InlineData("mesh:\n  endpoints: [ftp://x]\n", 2, "not an http:// or https:// URL")]
    [InlineData("mesh:\n  endpoints: [[a]]\n", 2, "plain values")]
    [InlineData("runtime:\n  engine: containerd\n", 2, "one of auto, docker, podman")]
    [InlineData("cache:\n  max_bytes: 10GiB\n", 2, "a size such as")]
    [InlineData("log:\n  level: verbose\n", 2, "one of debug, info, warn, error, got 'verbose'")]
    [InlineData("log:\n  level: INFO\n", 2, "one of debug, info, warn, error")]
    [InlineData("log:\n  level: [info]\n", 2, "got a list")]
    [InlineData("cache:\n  max_bytes: 99999999999Ti\n", 2, "a size such as")]
    [InlineData("node:\n  region: eu\nnode:\n  region: us\n", 3, "appears twice")]
    [InlineData("node:\n  region: eu\n  region: us\n", 3, "appears twice")]
    [InlineData("node:\n  region:\n    nested: map\n", 3, "wrong type")]
    [InlineData("- a\n- b\n", 1, "the top level must be a map")]
    [InlineData("node: value\n", 1, "must be a map")]
    [InlineData("node:\n  region: &r eu\nlistener:\n  bind: *r\n", 4, "alias")]
    [InlineData("node:\n  region: [unclosed\n", 3, "not valid YAML")]
    [InlineData("node:\n\tregion: eu\n", 2, "indented with a tab")]
    [InlineData("node:\n  region: eu\0\n", 2, "control character U+0000")]
    [InlineData("node: {region: eu}\n---\nnode: {region: us}\n", 2, "second YAML document")]
    [InlineData("node:\n  region: \"\\x01\"\n", 2, "printable")]
    public void Bad_files_fail_naming_the_line_and_the_key(string yaml, int line, string expected)
    {
        var error = Assert.Throws<InfraException>(() => Apply(yaml));
        Assert.Equal(FailureKind.Configuration, error.Kind);
        Assert.Equal(2, error.ExitCode);
        Assert.Contains($"config.yaml line {line}:", error.Message, StringComparison.Ordinal);
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("")]
    [InlineData("# only comments\n")]
    [InlineData("mesh:\n")]
    [InlineData("listener:\n  port:\n")]
    public void Empty_files_sections_and_values_keep_the_defaults(string yaml)
    {
        NodeConfig config = Apply(yaml);
        Assert.Equal(9000, config.Listener.Port);
    }

    [Fact]
    public void Every_prefix_of_a_valid_file_either_loads_or_fails_with_a_configuration_error()
    {
        string yaml = File.ReadAllText(Path.Combine(RepoRoot(), "config.yaml"));
        for (int length = 0; length <= yaml.Length; length++)
        {
            try
            {
                Apply(yaml[..length]);
            }
            catch (InfraException e) when (e.Kind == FailureKind.Configuration)
            {
                Assert.Matches("^config\\.yaml line \\d+: ", e.Message);
            }
        }
    }

    [Fact]
    public void Hostile_yaml_is_refused_without_blowing_up()
    {
        string deep = new string('[', 100_000) + new string(']', 100_000);
        Assert.Throws<InfraException>(() => Apply("node:\n  region: " + deep + "\n"));

        string laughs = "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: [*b, *b, *b, *b]\n";
        Assert.Throws<InfraException>(() => Apply(laughs));

        Assert.Throws<InfraException>(() => Apply("\0\0\0"));
        Assert.Throws<InfraException>(() => Apply("node:\n  region: \"" + new string('x', 10_000) + "\"\n"));
    }

    [Fact]
    public void An_oversized_file_is_refused_before_parsing()
    {
        using var temp = new TempFolder();
        string path = temp.Write("config.yaml", "# " + new string('x', ConfigLoader.MaxFileBytes) + "\n");
        var error = Assert.Throws<InfraException>(() => ConfigLoader.Load(path, User, new Hashtable()));
        Assert.Contains("over the", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_missing_explicit_file_is_a_configuration_error()
    {
        var error = Assert.Throws<InfraException>(() => ConfigLoader.Load("/nonexistent/config.yaml", User, new Hashtable()));
        Assert.Equal(2, error.ExitCode);
        Assert.Contains("does not exist", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_explicit_file_is_read_and_named_as_the_source()
    {
        using var temp = new TempFolder();
        string path = temp.Write("custom.yaml", "node:\n  region: asia-east\n");
        NodeConfig config = ConfigLoader.Load(path, User, new Hashtable());
        Assert.Equal("asia-east", config.Node.Region);
        Assert.Equal(path, config.Source);
    }

    [Fact]
    public void Environment_variables_override_single_keys_and_lists_are_comma_separated()
    {
        var env = new Hashtable
        {
            ["INFRAMIND_NODE_REGION"] = "us-east",
            ["INFRAMIND_LISTENER_PORT"] = "9443",
            ["INFRAMIND_MESH_TRUSTED_SCHEDULERS"] = "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf, 0x2b5ad5c4795c026514f8317c7a215e218dccd6cf",
            ["INFRAMIND_CACHE_MAX_BYTES"] = "512Mi",
            ["INFRAMIND_LOG_LEVEL"] = "warn",
            ["PATH"] = "/usr/bin",
        };
        var config = new NodeConfig(User);
        ConfigLoader.ApplyYaml(config, "node:\n  region: eu\nlistener:\n  port: 9000\n", "config.yaml", User);
        ConfigLoader.ApplyEnvironment(config, env, User);
        Assert.Equal("us-east", config.Node.Region);
        Assert.Equal(9443, config.Listener.Port);
        Assert.Equal(2, config.Mesh.TrustedSchedulers.Count);
        Assert.Equal(512L << 20, config.Cache.MaxBytes);
        Assert.Equal(LogLevel.Warn, config.Log.Level);
    }

    [Theory]
    [InlineData("INFRAMIND_LISTENER_PORTT", "9000", "is not a configuration key")]
    [InlineData("INFRAMIND_LISTENER_PORT", "nine", "environment variable INFRAMIND_LISTENER_PORT (listener.port)")]
    [InlineData("INFRAMIND_MESH_TRUSTED_SCHEDULERS", "0xnothex", "not a valid address")]
    public void Bad_environment_variables_are_named(string name, string value, string expected)
    {
        var error = Assert.Throws<InfraException>(() => ConfigLoader.ApplyEnvironment(new NodeConfig(User), new Hashtable { [name] = value }, User));
        Assert.Equal(2, error.ExitCode);
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("10Gi", 10L << 30)]
    [InlineData("512Mi", 512L << 20)]
    [InlineData("1Ki", 1024)]
    [InlineData("2Ti", 2L << 40)]
    [InlineData("10G", 10_000_000_000)]
    [InlineData("5k", 5_000)]
    [InlineData("123", 123)]
    public void Byte_sizes_parse(string text, long expected)
    {
        Assert.True(ByteSize.TryParse(text, out long bytes));
        Assert.Equal(expected, bytes);
    }

    [Theory]
    [InlineData("")]
    [InlineData("Gi")]
    [InlineData("1.5Gi")]
    [InlineData("-1")]
    [InlineData("10GiB")]
    [InlineData("99999999999999999999")]
    [InlineData("9999999999Ti")]
    public void Bad_byte_sizes_are_refused(string text)
    {
        Assert.False(ByteSize.TryParse(text, out _));
    }

    private static NodeConfig Apply(string yaml)
    {
        var config = new NodeConfig(User);
        ConfigLoader.ApplyYaml(config, yaml, "config.yaml", User);
        return config;
    }

    internal static string RepoRoot()
    {
        string? dir = AppContext.BaseDirectory;
        while (dir is not null && !File.Exists(Path.Combine(dir, "inframind-node.sln")))
            dir = Path.GetDirectoryName(dir);
        return dir ?? throw new DirectoryNotFoundException("inframind-node.sln not found above the test folder");
    }
}
