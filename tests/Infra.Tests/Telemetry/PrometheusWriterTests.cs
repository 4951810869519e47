using System.Buffers;
using System.Diagnostics;
using System.Text;
using InfraMind.Node.Telemetry;
using InfraMind.Node.Tests.Support;
using Xunit.Abstractions;

namespace InfraMind.Node.Tests.Telemetry;

public sealed class PrometheusWriterTests
{
    private const string Promtool = "/usr/bin/promtool";
    private static readonly DateTimeOffset Start = new(2026, 1, 2, 3, 4, 5, TimeSpan.Zero);

    private static readonly HostLoadSample Host = new(0.25, 0.5, LoadSource.Cgroup, LoadSource.Host, Start);
    private static readonly ProcessSample Process = new(50_000_000, 12_345_678, 17, 42, 3.21, GcAllocatedBytes: 987_654_321, GcCollections: 12);

    private readonly FakeTime _time = new(Start);
    private readonly ITestOutputHelper _output;

    public PrometheusWriterTests(ITestOutputHelper output)
    {
        _output = output;
    }

    private NodeTelemetry Busy(string nodeId = "0xB71c3f0000000000000000000000000000000001", string region = "europe-west", string version = "0.1.0+abc")
    {
        var t = new NodeTelemetry(nodeId, region, version, Start, _time);
        t.RecordJobFinished(JobFinalState.Succeeded, TimeSpan.FromMilliseconds(40));
        t.RecordJobFinished(JobFinalState.Succeeded, TimeSpan.FromSeconds(3));
        t.RecordJobFinished(JobFinalState.TimedOut, TimeSpan.FromMinutes(20));
        t.RecordRejection(RejectionReason.DeadlinePassed);
        t.RecordCacheHit(4096);
        t.RecordCacheMiss();
        t.RecordFetch(1_000_000, TimeSpan.FromSeconds(4));
        t.SetMeshState(MeshLinkState.Connected);
        t.RecordReconnect();
        t.RecordHeartbeat();
        t.SetQueueDepth(2);
        t.SetActiveJobs(1);
        t.SetUnackedReceipts(5);
        _time.Advance(TimeSpan.FromSeconds(90));
        return t;
    }

    private static string Scrape(NodeTelemetry t, HostLoadSample? host, ProcessSample? process)
    {
        var buffer = new ArrayBufferWriter<byte>();
        PrometheusWriter.Write(buffer, t, host, process);
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    [Fact]
    public void Promtool_accepts_a_full_scrape_without_lint_complaints()
    {
        string text = Scrape(Busy(), Host, Process);
        _output.WriteLine(text);
        AssertPromtoolPasses(text);
    }

    [Fact]
    public void Promtool_accepts_a_scrape_with_every_optional_figure_unknown()
    {
        var t = new NodeTelemetry("n", "r", "v", Start, _time);
        string text = Scrape(t, HostLoadSample.Unknown, new ProcessSample(null, 0, null, null, null));
        AssertPromtoolPasses(text);
        Assert.DoesNotContain("heartbeat_age", text, StringComparison.Ordinal);
        Assert.DoesNotContain("host_cpu", text, StringComparison.Ordinal);
        Assert.DoesNotContain("process_resident", text, StringComparison.Ordinal);
        Assert.Contains("inframind_process_gc_heap_bytes 0\n", text, StringComparison.Ordinal);
        AssertPromtoolPasses(Scrape(t, null, null));
    }

    [Fact]
    public void Writes_the_expected_samples()
    {
        string text = Scrape(Busy(), Host, Process);
        string[] expected =
        [
            "inframind_node_info{node_id=\"0xB71c3f0000000000000000000000000000000001\",region=\"europe-west\",version=\"0.1.0+abc\"} 1",
            "inframind_uptime_seconds 90",
            "inframind_jobs_total{state=\"succeeded\"} 2",
            "inframind_jobs_total{state=\"timed_out\"} 1",
            "inframind_jobs_total{state=\"rejected\"} 1",
            "inframind_jobs_total{state=\"cancelled\"} 0",
            "inframind_rejections_total{reason=\"deadline_passed\"} 1",
            "inframind_rejections_total{reason=\"queue_full\"} 0",
            "inframind_job_duration_seconds_bucket{le=\"0.025\"} 0",
            "inframind_job_duration_seconds_bucket{le=\"0.05\"} 1",
            "inframind_job_duration_seconds_bucket{le=\"2.5\"} 1",
            "inframind_job_duration_seconds_bucket{le=\"5\"} 2",
            "inframind_job_duration_seconds_bucket{le=\"600\"} 2",
            "inframind_job_duration_seconds_bucket{le=\"+Inf\"} 3",
            "inframind_job_duration_seconds_sum 1203.04",
            "inframind_job_duration_seconds_count 3",
            "inframind_queue_depth 2",
            "inframind_active_jobs 1",
            "inframind_cache_hits_total 1",
            "inframind_cache_misses_total 1",
            "inframind_cache_bytes_served_total 4096",
            "inframind_fetch_bytes_total 1000000",
            "inframind_fetch_rate_bytes_per_second 250000",
            "inframind_mesh_connected 1",
            "inframind_mesh_reconnects_total 1",
            "inframind_mesh_heartbeat_age_seconds 90",
            "inframind_receipts_unacked 5",
            "inframind_host_cpu_utilization 0.25",
            "inframind_host_memory_utilization 0.5",
            "process_cpu_seconds_total 3.21",
            "process_resident_memory_bytes 50000000",
            "process_open_fds 42",
            "inframind_process_gc_heap_bytes 12345678",
            "inframind_process_threads 17",
            "inframind_process_gc_allocated_bytes_total 987654321",
            "inframind_process_gc_collections_total 12",
        ];
        string[] lines = text.Split('\n');
        foreach (string line in expected)
            Assert.Contains(line, lines);
        Assert.EndsWith("\n", text, StringComparison.Ordinal);
        Assert.Equal(6, lines.Count(l => l.StartsWith("inframind_jobs_total{", StringComparison.Ordinal)));
        Assert.Equal(TelemetryCodes.RejectionReasonCount, lines.Count(l => l.StartsWith("inframind_rejections_total{", StringComparison.Ordinal)));
    }

    [Fact]
    public void Every_family_is_declared_once_and_every_sample_belongs_to_the_family_above_it()
    {
        string text = Scrape(Busy(), Host, Process);
        var declared = new HashSet<string>(StringComparer.Ordinal);
        string? family = null;
        string? type = null;
        string? help = null;
        foreach (string line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            if (line.StartsWith("# HELP ", StringComparison.Ordinal))
            {
                help = line.Split(' ')[2];
                continue;
            }

            if (line.StartsWith("# TYPE ", StringComparison.Ordinal))
            {
                string[] parts = line.Split(' ');
                family = parts[2];
                type = parts[3];
                Assert.Equal(help, family); // HELP immediately precedes its TYPE
                Assert.True(declared.Add(family), $"family {family} declared twice");
                Assert.True(family.StartsWith("inframind_", StringComparison.Ordinal) || family.StartsWith("process_", StringComparison.Ordinal));
                Assert.Equal(type == "counter", family.EndsWith("_total", StringComparison.Ordinal));
                continue;
            }

            string name = line[..line.IndexOfAny(['{', ' '])];
            Assert.NotNull(family);
            if (type == "histogram")
                Assert.Contains(name, new[] { family + "_bucket", family + "_sum", family + "_count" });
            else
                Assert.Equal(family, name);
        }

        Assert.Contains("inframind_job_duration_seconds", declared);
        Assert.Equal(25, declared.Count);
    }

    [Theory]
    [InlineData("quote\"d", "back\\slash", "new\nline")]
    [InlineData("\\\"\n\\n", "東京-🌏-ü", "v\r\t\u0001end")]
    [InlineData("\"} 1\ninjected_metric 666\n#", "", "\\")]
    [InlineData("lone\uD800surrogate", "}{=,", "a\"\"\"\\\\\\")]
    public void Hostile_label_values_are_escaped_and_read_back_exactly(string nodeId, string region, string version)
    {
        var t = new NodeTelemetry(nodeId, region, version, Start, _time);
        string text = Scrape(t, Host, Process);
        AssertPromtoolPasses(text);

        string info = text.Split('\n').Single(l => l.StartsWith("inframind_node_info{", StringComparison.Ordinal));
        Assert.DoesNotContain("injected_metric", text.Replace(info, "", StringComparison.Ordinal), StringComparison.Ordinal);
        Dictionary<string, string> labels = ParseLabels(info);
        string Utf8RoundTrip(string s) => Encoding.UTF8.GetString(Encoding.UTF8.GetBytes(s)); // lone surrogate -> U+FFFD
        Assert.Equal(Utf8RoundTrip(nodeId), labels["node_id"]);
        Assert.Equal(Utf8RoundTrip(region), labels["region"]);
        Assert.Equal(Utf8RoundTrip(version), labels["version"]);
        Assert.EndsWith("} 1", info, StringComparison.Ordinal);
    }

    [Fact]
    public void Output_is_the_same_through_a_writer_that_hands_out_minimal_spans()
    {
        NodeTelemetry t = Busy();
        var tight = new TightBufferWriter();
        PrometheusWriter.Write(tight, t, Host, Process);
        Assert.Equal(Scrape(t, Host, Process), Encoding.UTF8.GetString(tight.Written.ToArray()));
        Assert.True(tight.Calls > 3); // it really did refill several times
    }

    [Fact]
    public void A_scrape_after_warm_up_allocates_nothing()
    {
        NodeTelemetry t = Busy();
        var stats = new ProcessStats();
        var buffer = new ArrayBufferWriter<byte>(64 * 1024);
        ProcessSample process = stats.Read();
        for (int i = 0; i < 3; i++)
        {
            buffer.ResetWrittenCount();
            PrometheusWriter.Write(buffer, t, Host, process);
        }

        long writerBytes = AllocationBudget.Fewest(100, () =>
        {
            buffer.ResetWrittenCount();
            t.RecordCacheHit(1); // live counters change between scrapes
            PrometheusWriter.Write(buffer, t, Host, process);
        });
        Assert.Equal(0, writerBytes);

        // Reading procfs fresh costs a file handle or two and the fd listing's enumerator: small and bounded.
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 100; i++)
            _ = stats.Read();
        long perRead = (GC.GetAllocatedBytesForCurrentThread() - before) / 100;
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < 1000; i++)
        {
            buffer.ResetWrittenCount();
            PrometheusWriter.Write(buffer, t, Host, process);
        }

        double scrapeMicros = clock.Elapsed.TotalMicroseconds / 1000;
        clock.Restart();
        for (int i = 0; i < 100; i++)
            _ = stats.Read();
        double readMicros = clock.Elapsed.TotalMicroseconds / 100;
        _output.WriteLine($"scrape: {buffer.WrittenCount} bytes in {scrapeMicros:F1} us, writer allocations {writerBytes} B per 100 scrapes; ProcessStats.Read {perRead} B and {readMicros:F1} us each");
        Assert.InRange(perRead, 0, 2048);
    }

    private static Dictionary<string, string> ParseLabels(string line)
    {
        var labels = new Dictionary<string, string>(StringComparer.Ordinal);
        int i = line.IndexOf('{', StringComparison.Ordinal) + 1;
        while (line[i] != '}')
        {
            int eq = line.IndexOf('=', i);
            string name = line[i..eq];
            Assert.Equal('"', line[eq + 1]);
            var value = new StringBuilder();
            int j = eq + 2;
            for (; line[j] != '"'; j++)
            {
                if (line[j] == '\\')
                {
                    j++;
                    value.Append(line[j] switch { 'n' => '\n', '\\' => '\\', '"' => '"', var c => throw new InvalidOperationException($"bad escape \\{c}") });
                }
                else
                {
                    value.Append(line[j]);
                }
            }

            labels.Add(name, value.ToString());
            i = line[j + 1] == ',' ? j + 2 : j + 1;
        }

        return labels;
    }

    internal static void AssertPromtoolPasses(string text)
    {
        Assert.True(File.Exists(Promtool), $"{Promtool} is missing: install it with `apt-get install -y prometheus` (the exposition tests check against it)");
        var start = new ProcessStartInfo(Promtool, ["check", "metrics"])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using Process process = System.Diagnostics.Process.Start(start)!;
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        process.StandardInput.BaseStream.Write(Encoding.UTF8.GetBytes(text));
        process.StandardInput.Close();
        Assert.True(process.WaitForExit(30_000), "promtool did not finish");
        string complaints = (stdout.Result + stderr.Result).Trim();
        Assert.True(process.ExitCode == 0 && complaints.Length == 0, $"promtool exit {process.ExitCode}: {complaints}\n---\n{text}");
    }

    /// <summary>Hands out exactly the size asked for, so every refill path of the writer runs.</summary>
    private sealed class TightBufferWriter : IBufferWriter<byte>
    {
        private readonly ArrayBufferWriter<byte> _inner = new();
        private byte[] _pending = [];

        public int Calls { get; private set; }

        public ReadOnlyMemory<byte> Written => _inner.WrittenMemory;

        public void Advance(int count)
        {
            Assert.InRange(count, 0, _pending.Length);
            _inner.Write(_pending.AsSpan(0, count));
        }

        public Memory<byte> GetMemory(int sizeHint = 0) => _pending = new byte[Math.Max(sizeHint, 1)];

        public Span<byte> GetSpan(int sizeHint = 0)
        {
            Calls++;
            return GetMemory(sizeHint).Span;
        }
    }
}
