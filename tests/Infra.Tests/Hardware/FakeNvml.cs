using System.Diagnostics;
using System.Runtime.InteropServices;
using InfraMind.Node.Tests.Support;

namespace InfraMind.Node.Tests.Hardware;

/// <summary>
/// Builds tests/fixtures/nvml/fake_nvml.c with gcc, one copy per call in its own folder: NVML keeps process-wide
/// state, and each distinct path loads as a distinct library (no soname, so the loader never confuses them).
/// </summary>
internal static class FakeNvml
{
    public static string FixtureDir => Path.Combine(Configuration.ConfigLoaderTests.RepoRoot(), "tests", "fixtures", "nvml");

    private static int _builds;

    /// <summary>A -D flag that bakes FAKE_NVML_<paramref name="name"/> in as a string.</summary>
    public static string Set(string name, string value) => $"-DFAKE_NVML_{name}=\"{value}\"";

    public static string Build(TempFolder dir, params string[] defines)
    {
        string folder = dir[$"nvml-{Interlocked.Increment(ref _builds)}"];
        Directory.CreateDirectory(folder);
        string output = Path.Combine(folder, "libnvidia-ml.so.1");
        Gcc(["-shared", "-fPIC", "-Wall", "-Wextra", "-Werror", "-o", output, Path.Combine(FixtureDir, "fake_nvml.c"), .. defines]);
        return output;
    }

    public static string Gcc(IEnumerable<string> args)
    {
        var start = new ProcessStartInfo("gcc") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (string arg in args)
            start.ArgumentList.Add(arg);
        using Process gcc = Process.Start(start)!;
        string stdout = gcc.StandardOutput.ReadToEnd();
        string stderr = gcc.StandardError.ReadToEnd();
        gcc.WaitForExit();
        Assert.True(gcc.ExitCode == 0, $"gcc {string.Join(' ', start.ArgumentList)} failed: {stderr}");
        return stdout;
    }

    /// <summary>How many nvmlInit_v2 calls the fake at <paramref name="path"/> has not seen matched by nvmlShutdown.</summary>
    public static unsafe int OpenInits(string path)
    {
        nint handle = NativeLibrary.Load(path); // the same handle the probe holds
        var count = (delegate* unmanaged<int>)NativeLibrary.GetExport(handle, "fake_nvml_init_count");
        return count();
    }
}
