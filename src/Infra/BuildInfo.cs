using System.Reflection;
using System.Runtime.InteropServices;

namespace InfraMind.Node;

/// <summary>What this binary is: version, commit, platform, and when its source was committed.</summary>
public static class BuildInfo
{
    /// <summary>The version with the commit, e.g. 0.1.0+3f2a9c1.</summary>
    public static string Version { get; } =
        typeof(BuildInfo).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0";

    public static string Platform => RuntimeInformation.RuntimeIdentifier;

    /// <summary>
    /// Unix time of the commit the binary was built from (build.sh passes it). A clock earlier than this is wrong.
    /// </summary>
    public static long SourceEpoch { get; } = ReadSourceEpoch();

    private static long ReadSourceEpoch()
    {
        foreach (AssemblyMetadataAttribute attribute in typeof(BuildInfo).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>())
        {
            if (attribute.Key == "SourceEpoch" && long.TryParse(attribute.Value, out long epoch))
                return epoch;
        }

        return 1_764_000_000; // 2025-11-24: older than any build of this project.
    }
}
