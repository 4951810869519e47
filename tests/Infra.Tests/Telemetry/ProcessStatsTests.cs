using System.Diagnostics;
using System.Globalization;
using System.Text;
using InfraMind.Node.Telemetry;
using InfraMind.Node.Tests.Support;

namespace InfraMind.Node.Tests.Telemetry;

/// <summary>The procfs parsers and <see cref="ProcessStats"/> against fixture files, hostile ones included, and the real /proc.</summary>
public sealed class ProcessStatsTests : IDisposable
{
    // Shaped like Linux 6.x output; the command name holds spaces and parentheses, as a process may name itself.
    internal const string Status =
        "Name:\tinfra\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t4242\nPid:\t4242\nVmPeak:\t  300000 kB\n" +
        "VmRSS:\t   51200 kB\nRssAnon:\t   40000 kB\nThreads:\t17\nSigQ:\t0/63704\nvoluntary_ctxt_switches:\t150\n";

    internal const string Stat =
        "4242 (infra) (x) y) S 1 4242 4242 0 -1 4194560 2810 0 0 0 321 79 0 0 20 0 17 0 904225 3133440000 12800 " +
        "18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n";

    private readonly TempFolder _dir = new();

    public void Dispose() => _dir.Dispose();

    private ProcessStats Fixture(string? status = Status, string? stat = Stat, int fds = 5)
    {
        if (status is not null)
            _dir.Write("proc/self/status", status);
        if (stat is not null)
            _dir.Write("proc/self/stat", stat);
        for (int i = 0; i < fds; i++)
            _dir.Write($"proc/self/fdinfo/{i}", "pos:\t0\nflags:\t02\n");
        return new ProcessStats(_dir["proc"]);
    }

    [Fact]
    public void Reads_rss_threads_fds_and_cpu_from_fixture_files()
    {
        ProcessSample s = Fixture().Read();
        Assert.Equal(51200L * 1024, s.ResidentBytes);
        Assert.Equal(17, s.Threads);
        Assert.Equal(5, s.OpenFds);
        Assert.Equal(4.0, s.CpuSeconds); // (321 + 79) ticks at 100 per second
        Assert.True(s.GcHeapBytes > 0);
    }

    [Fact]
    public void Allocated_bytes_and_collections_count_up()
    {
        ProcessStats stats = Fixture();
        ProcessSample before = stats.Read();
        for (int i = 0; i < 4; i++)
            GC.KeepAlive(new byte[1 << 20]);
        GC.Collect(0);
        ProcessSample after = stats.Read();
        // The imprecise count may lag by what threads hold in their allocation contexts, never by megabytes.
        Assert.True(after.GcAllocatedBytes - before.GcAllocatedBytes >= 2 << 20, $"{before.GcAllocatedBytes} -> {after.GcAllocatedBytes}");
        Assert.True(after.GcCollections > before.GcCollections);
    }

    [Fact]
    public void Missing_files_are_unknown_not_errors()
    {
        ProcessSample s = new ProcessStats(_dir["nowhere"]).Read();
        Assert.Null(s.ResidentBytes);
        Assert.Null(s.Threads);
        Assert.Null(s.OpenFds);
        Assert.Null(s.CpuSeconds);
    }

    [Theory]
    [InlineData("VmRSS:\t-5 kB\nThreads:\t+3\n")]
    [InlineData("VmRSS:\t99999999999999999999 kB\nThreads:\t1e3\n")]
    [InlineData("VmRSS:\t9223372036854775807 kB\nThreads:\t\n")] // fits a long, not once times 1024
    [InlineData("VmRSS:\t10 kB\nVmRSS:\t20 kB\nThreads:\t2\nThreads:\t2\n")] // twice is ambiguous
    [InlineData("VmRSS 10 kB\nThreads 2\n")]
    [InlineData("VmRSS:\t10 MB\nThreads:\tmany\n")]
    [InlineData("\0\0\0\xff\xfe garbage\n")]
    [InlineData("")]
    public void Hostile_status_files_give_unknown(string status)
    {
        ProcessSample s = Fixture(status: status).Read();
        Assert.Null(s.ResidentBytes);
        Assert.Null(s.Threads);
        Assert.Equal(4.0, s.CpuSeconds); // the other file still counts
    }

    [Theory]
    [InlineData("4242 infra S 1 2 3 4 5 6 7 8 9 10 321 79 0 0 0\n")] // no parentheses
    [InlineData("4242 (infra S 1 2 3 4 5 6 7 8 9 10 321 79 0 0 0\n")]
    [InlineData("4242 )infra( S 1 2 3 4 5 6 7 8 9 10 321 79 0 0 0\n")]
    [InlineData("4242 (infra) S 1 2 3 4 5 6 7 8 9 10 -321 79 0 0 0\n")]
    [InlineData("4242 (infra) S 1 2 3 4 5 6 7 8 9 10 321 79\n")] // ends at stime: cut off
    [InlineData("4242 (infra) S 1 2 3 4 5 6 7 8 9 10 99999999999999999999 79 0\n")]
    [InlineData("4242 (infra)S 1 2 3 4 5 6 7 8 9 10 321 79 0 0 0\n")]
    [InlineData("4242 (infra) S  1 2 3 4 5 6 7 8 9 10 321 79 0 0 0\n")] // double space shifts fields
    [InlineData("(")]
    [InlineData(")")]
    public void Hostile_stat_files_give_unknown(string stat)
    {
        ProcessSample s = Fixture(stat: stat).Read();
        Assert.Null(s.CpuSeconds);
        Assert.Equal(17, s.Threads);
    }

    [Fact]
    public void Every_prefix_of_a_status_file_parses_to_the_true_value_or_to_unknown()
    {
        byte[] full = Encoding.ASCII.GetBytes(Status);
        for (int n = 0; n <= full.Length; n++)
        {
            ReadOnlySpan<byte> prefix = full.AsSpan(0, n);
            if (ProcText.TryFindKeyed(prefix, "VmRSS"u8, out long rss))
                Assert.Equal(51200L * 1024, rss);
            if (ProcText.TryFindKeyed(prefix, "Threads"u8, out long threads))
                Assert.Equal(17, threads);
        }
    }

    [Fact]
    public void Every_prefix_of_a_stat_file_parses_to_the_true_value_or_to_unknown()
    {
        byte[] full = Encoding.ASCII.GetBytes(Stat);
        for (int n = 0; n <= full.Length; n++)
        {
            if (ProcText.TryParseStatCpuTicks(full.AsSpan(0, n), out long user, out long system))
            {
                Assert.Equal(321, user);
                Assert.Equal(79, system);
            }
        }
    }

    [Fact]
    public void A_status_file_over_the_buffer_is_unknown_rather_than_half_read()
    {
        // A real status file is 1.5 KiB; one this size is not the kernel's, and a cut-off one could hold half a number.
        ProcessSample s = Fixture(status: Status + new string('x', 20_000) + "\n").Read();
        Assert.Null(s.ResidentBytes);
        Assert.Null(s.Threads);
    }

    [Fact]
    public void Reads_this_process_from_the_real_proc()
    {
        ProcessSample s = new ProcessStats().Read();
        Assert.InRange(s.ResidentBytes!.Value, 1L << 20, 64L << 30);
        Assert.InRange(s.Threads!.Value, 2, 10_000); // the runtime alone starts several
        Assert.InRange(s.OpenFds!.Value, 3, 1_000_000);
        Assert.True(s.CpuSeconds > 0);
    }

    [Fact]
    public void Counts_another_process_descriptors_exactly()
    {
        // This test host opens and closes files on other threads, so its own count moves; a child that holds
        // ten extra descriptors and then only sleeps gives an exact difference against one that holds none.
        string path = _dir.Write("held", "x");
        using Process bare = SleepingChild("");
        using Process holding = SleepingChild(string.Join(' ', Enumerable.Range(3, 10).Select(fd => $"exec {fd}<'{path}';")));
        try
        {
            long? bareFds = FdsOnceSleeping(bare);
            long? holdingFds = FdsOnceSleeping(holding);
            Assert.Equal(3, bareFds);
            Assert.Equal(bareFds + 10, holdingFds);
            Assert.Equal(1, new ProcessStats("/proc", holding.Id.ToString(CultureInfo.InvariantCulture)).Read().Threads);
        }
        finally
        {
            bare.Kill();
            holding.Kill();
        }
    }

    private static Process SleepingChild(string openFiles)
    {
        // A child can inherit a descriptor another test opened without close-on-exec in the instant it forked, so
        // bash first closes everything above stderr; its exec then leaves the files it opens to sleep.
        const string CloseInherited = "for ((n = 3; n < 1024; n++)); do eval \"exec $n<&-\"; done 2>/dev/null;";
        return Process.Start(new ProcessStartInfo("bash", ["-c", $"{CloseInherited} {openFiles} exec sleep 60"]) { UseShellExecute = false })!;
    }

    private static long? FdsOnceSleeping(Process child)
    {
        // comm turns to "sleep" at exec, while the loader may still hold a library open; two equal counts
        // 50 ms apart mean it has reached its nanosleep.
        string dir = child.Id.ToString(CultureInfo.InvariantCulture);
        var stats = new ProcessStats("/proc", dir);
        long? last = null;
        for (int i = 0; i < 200; i++)
        {
            if (File.ReadAllText($"/proc/{dir}/comm").Trim() == "sleep")
            {
                long? now = stats.Read().OpenFds;
                if (now is not null && now == last)
                    return now;
                last = now;
            }

            Thread.Sleep(50);
        }

        throw new TimeoutException($"child {dir} never settled in sleep");
    }
}
