using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using InfraMind.Node.Agent;
using InfraMind.Node.Interop;
using InfraMind.Node.Tests.Support;

namespace InfraMind.Node.Tests.Agent;

/// <summary>
/// Which mappings a start may release (only clean, read-only mappings of files), that a released file mapping reads
/// the same bytes back, and that the real node releases its start-up pages and goes on serving.
/// </summary>
public sealed partial class StartupPageReleaseTests : IDisposable
{
    private readonly TempFolder _dir = new();

    public void Dispose() => _dir.Dispose();

    private static string Mapping(string header, long rssKiB, long? anonymousKiB, string flags = "rd ex mr mw me", long swapKiB = 0) =>
        $"{header}\nSize:                 64 kB\nRss:                 {rssKiB} kB\n"
        + (anonymousKiB is { } a ? $"Anonymous:           {a} kB\n" : string.Empty)
        + $"AnonHugePages:         0 kB\nSwap:                {swapKiB} kB\nSwapPss:               0 kB\nVmFlags: {flags}\n";

    [Fact]
    public void Only_clean_read_only_mappings_of_files_on_disk_are_eligible()
    {
        string smaps = string.Concat(
            Mapping("55d0c6a00000-55d0c6b00000 r-xp 00000000 08:01 1234                       /usr/local/bin/infra", 900, 0),
            Mapping("55d0c6b00000-55d0c6b10000 r--p 00100000 08:01 1234                       /usr/local/bin/infra", 64, 0),
            Mapping("55d0c6b10000-55d0c6b20000 r--p 00110000 08:01 1234                       /usr/local/bin/infra", 64, 12), // RELRO: relocated by the loader
            Mapping("55d0c6b10000-55d0c6b20000 r--p 00110000 08:01 1235                       /usr/lib/swapped.so", 0, 0, swapKiB: 8), // its relocated pages swapped out
            Mapping("55d0c6b20000-55d0c6b30000 rw-p 00120000 08:01 1234                       /usr/local/bin/infra", 64, 0),
            Mapping("7f0000000000-7f0000100000 rw-p 00000000 00:00 0 ", 1024, 1024),
            Mapping("7f0000100000-7f0000200000 r-xp 00000000 08:01 77                         /opt/with space/lib.so", 128, 0),
            Mapping("7f0000200000-7f0000300000 r-xp 00000000 08:01 78                         /usr/lib/locked.so", 128, 0, "rd ex mr mw me lo"),
            Mapping("7f0000300000-7f0000301000 r-xp 00000000 00:00 0                          [vdso]", 4, 0),
            Mapping("7f0000400000-7f0000410000 ---p 00000000 08:01 79                         /usr/lib/gap.so", 0, 0),
            Mapping("7f0000500000-7f0000510000 r-xs 00000000 00:01 80                         /memfd:doublemapper (deleted)", 8, 0),
            Mapping("7f0000600000-7f0000610000 r--s 00000000 00:01 81                         /usr/lib/replaced.so (deleted)", 8, 0),
            Mapping("7f0000700000-7f0000710000 r--s 00000000 00:05 82                         /dev/nvidiactl", 8, 0),
            Mapping("7f0000800000-7f0000810000 r--s 00000000 08:01 83                         /usr/lib/driver-io.so", 8, 0, "rd sh mr io pf"),
            Mapping("7f0000900000-7f0000910000 r--s 00000000 08:01 84                         /usr/share/data.bin", 8, 0, "rd sh mr mw me ms"));
        List<StartupPageRelease.Region> eligible = StartupPageRelease.Eligible(new StringReader(smaps));

        Assert.Equal(
            ["/usr/local/bin/infra 900", "/usr/local/bin/infra 64", "/opt/with space/lib.so 128", "/usr/lib/gap.so 0", "/usr/share/data.bin 8"],
            eligible.Select(r => $"{r.Path} {r.ResidentKiB}"));
        Assert.Equal((0x55d0c6a00000UL, 0x55d0c6b00000UL), (eligible[0].Start, eligible[0].End));
    }

    [Theory]
    [InlineData("55d0c6a00000-55d0c6b00000 r-xp 00000000 08:01 1234 /bin/x\nRss: 4 kB\n")] // cut before its Anonymous line
    [InlineData("55d0c6a00000-55d0c6b00000 r-xp 00000000 08:01 1234 /bin/x\nRss: 4 kB\nAnonymous: 0 kB\n")] // cut before its Swap line
    [InlineData("55d0c6a00000-55d0c6b00000 r-xp 00000000 08:01 1234 /bin/x\nRss: 4 kB\nAnonymous: lots\nSwap: 0 kB\n")]
    [InlineData("55d0c6a00000-55d0c6b00000 r-xp 00000000 08:01 1234 /bin/x\nRss: 4 kB\nAnonymous: 0 MB\nSwap: 0 kB\n")]
    [InlineData("55d0c6a00000-55d0c6b00000 r-xp 00000000 08:01 1234 /bin/x\nRss: 4 kB\nAnonymous: -0 kB\nSwap: 0 kB\n")]
    [InlineData("zz-55d0c6b00000 r-xp 00000000 08:01 1234 /bin/x\nRss: 4 kB\nAnonymous: 0 kB\nSwap: 0 kB\n")]
    [InlineData("55d0c6b00000-55d0c6a00000 r-xp 00000000 08:01 1234 /bin/x\nRss: 4 kB\nAnonymous: 0 kB\nSwap: 0 kB\n")] // ends before it starts
    [InlineData("55d0c6a00000-55d0c6b00000 r-x 00000000 08:01 1234 /bin/x\nRss: 4 kB\nAnonymous: 0 kB\nSwap: 0 kB\n")]
    [InlineData("55d0c6a00000-55d0c6b00000 r-xp 00000000 08:01 1234\nRss: 4 kB\nAnonymous: 0 kB\nSwap: 0 kB\n")] // no path
    [InlineData("Anonymous: 0 kB\nRss: 4 kB\n\0\0garbage\nSwap: 0 kB\n")]
    [InlineData("")]
    public void Malformed_or_truncated_listings_release_nothing(string smaps) =>
        Assert.Empty(StartupPageRelease.Eligible(new StringReader(smaps)));

    [Fact]
    public void A_missing_listing_releases_nothing_and_does_not_throw() =>
        Assert.Equal(default, StartupPageRelease.Run(_dir["no-such-smaps"]));

    [Fact]
    public unsafe void A_released_file_mapping_leaves_memory_and_reads_the_same_bytes_back()
    {
        const int length = 16 * 4096;
        byte[] content = new byte[length];
        new Random(7).NextBytes(content);
        string path = _dir.Path + "/mapped.bin";
        File.WriteAllBytes(path, content);
        using FileStream file = File.OpenRead(path);
        nint address = Libc.Mmap(0, length, Libc.PROT_READ, Libc.MAP_PRIVATE, (int)file.SafeFileHandle.DangerousGetHandle(), 0);
        Assert.NotEqual(Libc.MAP_FAILED, address);
        try
        {
            var mapped = new ReadOnlySpan<byte>((void*)address, length);
            Assert.True(mapped.SequenceEqual(content));
            StartupPageRelease.Region region = Assert.Single(EligibleOf(path));
            Assert.Equal(length / 1024, region.ResidentKiB);

            Assert.Equal(new StartupPageRelease.Outcome(1, length / 1024, 0), StartupPageRelease.Release([region]));
            Assert.Equal(0, Assert.Single(EligibleOf(path)).ResidentKiB);
            Assert.True(mapped.SequenceEqual(content));
        }
        finally
        {
            Assert.Equal(0, Libc.Munmap(address, length));
        }

        static List<StartupPageRelease.Region> EligibleOf(string path)
        {
            using var smaps = new StreamReader("/proc/self/smaps");
            return StartupPageRelease.Eligible(smaps).Where(r => r.Path == path).ToList();
        }
    }

    [Fact]
    public void A_region_madvise_refuses_is_counted_not_thrown()
    {
        // Not page-aligned: madvise says EINVAL.
        var bad = new StartupPageRelease.Region(0x1001, 0x2001, 4, "/nowhere");
        Assert.Equal(new StartupPageRelease.Outcome(0, 0, 1), StartupPageRelease.Release([bad]));
    }

    [Fact]
    public async Task The_node_releases_its_start_up_pages_once_ready_and_goes_on_serving()
    {
        string key = _dir["identity.key"];
        Assert.Equal(0, InfraProcess.Run(_dir.Path, null, "init", "--keygen", "--identity", key).ExitCode);
        int port = FreePorts.Next();
        var env = new Dictionary<string, string>
        {
            ["INFRAMIND_NODE_IDENTITY"] = key,
            ["INFRAMIND_NODE_STATE_DIR"] = _dir["state"],
            ["INFRAMIND_LISTENER_BIND"] = "127.0.0.1",
            ["INFRAMIND_LISTENER_PORT"] = port.ToString(CultureInfo.InvariantCulture),
            ["INFRAMIND_CONTROL_SOCKET"] = _dir["control.sock"],
        };
        using System.Diagnostics.Process node = InfraProcess.Start(_dir.Path, env, "run");
        try
        {
            string? released = null;
            using (var wait = new CancellationTokenSource(TimeSpan.FromSeconds(60)))
            {
                while (released is null && await node.StandardError.ReadLineAsync(wait.Token) is { } line)
                {
                    if (line.StartsWith("info: start-up pages unmapped: ", StringComparison.Ordinal))
                        released = line;
                }
            }

            Assert.NotNull(released);
            Match m = ReleasedLine().Match(released);
            Assert.True(m.Success, released);
            // The executable's code alone is megabytes (the JIT host's runtime libraries, or the AOT binary itself).
            Assert.True(double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) >= 1, released);
            Assert.True(int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture) >= 2, released);

            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/") };
            for (int i = 0; i < 3; i++)
            {
                Assert.Equal(System.Net.HttpStatusCode.OK, (await http.GetAsync("healthz")).StatusCode);
                Assert.Contains("\"node_id\"", await http.GetStringAsync("v1/status"), StringComparison.Ordinal);
            }
        }
        finally
        {
            node.Kill();
            await node.WaitForExitAsync();
        }
    }

    [GeneratedRegex(@"^info: start-up pages unmapped: (\d+\.\d) MiB of code and read-only data in (\d+) mappings \(they stay in the page cache\)$")]
    private static partial Regex ReleasedLine();
}
