using InfraMind.Node.Configuration;
using InfraMind.Node.Errors;
using Xunit;

namespace InfraMind.Node.Tests.Configuration;

/// <summary>Where `~` points when HOME is missing: the static binary must not reach glibc's user database as root.</summary>
public class HostPathsTests
{
    private static string Unreachable() => throw new InvalidOperationException("the user database was asked although HOME or root decided");

    [Fact]
    public void Home_from_the_environment_wins_and_the_user_database_is_not_asked()
    {
        HostPaths paths = HostPaths.From("/srv/node", isRoot: true, Unreachable);
        Assert.Equal("/srv/node", paths.Home);
        Assert.True(paths.IsRoot);
        Assert.Equal("/srv/node/.inframind/identity.key", paths.Expand("~/.inframind/identity.key"));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    public void Root_without_home_gets_slash_root_without_a_lookup(string? home)
    {
        HostPaths paths = HostPaths.From(home, isRoot: true, Unreachable);
        Assert.Equal("/root", paths.Home);
        Assert.Equal("/root/.inframind/identity.key", new NodeConfig(paths).Node.Identity);
    }

    [Fact]
    public void Other_users_without_home_get_theirs_from_the_user_database()
    {
        int asked = 0;
        HostPaths paths = HostPaths.From(null, isRoot: false, () => { asked++; return "/home/op"; });
        Assert.Equal(1, asked);
        Assert.Equal("/home/op", paths.Home);
        Assert.Equal("/home/op/.inframind", new NodeConfig(paths).Node.StateDir);
    }

    [Fact]
    public void No_home_anywhere_is_a_configuration_error_that_says_to_set_home()
    {
        InfraException error = Assert.Throws<InfraException>(() => HostPaths.From("", isRoot: false, () => string.Empty));
        Assert.Equal(FailureKind.Configuration, error.Kind);
        Assert.Contains("set HOME", error.Message, StringComparison.Ordinal);
    }
}
