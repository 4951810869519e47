using System.Buffers;
using System.Buffers.Text;
using System.Text;

namespace InfraMind.Node.Telemetry;

/// <summary>
/// Writes <c>GET /metrics</c>: the Prometheus text exposition format 0.0.4, straight into the response buffer from
/// the live counters. Names, labels and help are UTF-8 literals, numbers go through <see cref="Utf8Formatter"/>, and
/// the node's own label values are escaped once when <see cref="NodeTelemetry"/> is made, so a scrape allocates
/// nothing. Each family is written once with its HELP and TYPE; a figure that is unknown (no heartbeat yet, a
/// procfs file that could not be read) leaves its family out rather than reporting a made-up number.
/// </summary>
public static class PrometheusWriter
{
    /// <summary>The Content-Type of the response.</summary>
    public static ReadOnlySpan<byte> ContentType => "text/plain; version=0.0.4; charset=utf-8"u8;

    /// <summary>Writes the node's metrics with the sampler's last host and process figures.</summary>
    public static void Write(IBufferWriter<byte> output, NodeTelemetry telemetry, TelemetrySampler sampler)
    {
        ArgumentNullException.ThrowIfNull(sampler);
        Write(output, telemetry, sampler.LatestHost, sampler.LatestProcess);
    }

    /// <summary>Writes the node's metrics; <paramref name="host"/> and <paramref name="process"/> are left out when null.</summary>
    public static void Write(IBufferWriter<byte> output, NodeTelemetry telemetry, HostLoadSample? host, ProcessSample? process)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(telemetry);
        var w = new ExpositionWriter(output);
        DateTimeOffset now = telemetry.Time.GetUtcNow();

        w.Family("inframind_node_info"u8, "Identity of this node; the value is always 1."u8, "gauge"u8);
        w.Raw("inframind_node_info{node_id=\""u8);
        w.Raw(telemetry.NodeIdLabel);
        w.Raw("\",region=\""u8);
        w.Raw(telemetry.RegionLabel);
        w.Raw("\",version=\""u8);
        w.Raw(telemetry.VersionLabel);
        w.Raw("\"} 1\n"u8);

        w.Family("inframind_uptime_seconds"u8, "Seconds since the agent started."u8, "gauge"u8);
        w.Sample("inframind_uptime_seconds"u8, telemetry.UptimeSeconds(now));

        w.Family("inframind_jobs_total"u8, "Jobs by final state."u8, "counter"u8);
        for (int i = 0; i < TelemetryCodes.JobStateCount; i++)
        {
            var state = (JobFinalState)i;
            w.Labelled("inframind_jobs_total"u8, "state"u8, TelemetryCodes.Utf8Name(state), telemetry.JobCount(state));
        }

        w.Family("inframind_rejections_total"u8, "Jobs refused at intake, by reason code."u8, "counter"u8);
        for (int i = 0; i < TelemetryCodes.RejectionReasonCount; i++)
        {
            var reason = (RejectionReason)i;
            w.Labelled("inframind_rejections_total"u8, "reason"u8, TelemetryCodes.Utf8Name(reason), telemetry.RejectionCount(reason));
        }

        WriteHistogram(ref w, telemetry.Histogram);

        w.Family("inframind_queue_depth"u8, "Jobs accepted and waiting to start."u8, "gauge"u8);
        w.Sample("inframind_queue_depth"u8, telemetry.QueueDepth);
        w.Family("inframind_active_jobs"u8, "Jobs preparing or running now."u8, "gauge"u8);
        w.Sample("inframind_active_jobs"u8, telemetry.ActiveJobs);

        w.Family("inframind_cache_hits_total"u8, "Model bundle lookups found in the cache."u8, "counter"u8);
        w.Sample("inframind_cache_hits_total"u8, telemetry.CacheHits);
        w.Family("inframind_cache_misses_total"u8, "Model bundle lookups that had to fetch."u8, "counter"u8);
        w.Sample("inframind_cache_misses_total"u8, telemetry.CacheMisses);
        w.Family("inframind_cache_bytes_served_total"u8, "Bundle bytes served from the cache instead of fetched."u8, "counter"u8);
        w.Sample("inframind_cache_bytes_served_total"u8, telemetry.CacheBytesServed);
        w.Family("inframind_fetch_bytes_total"u8, "Bundle bytes fetched from gateways and mirrors."u8, "counter"u8);
        w.Sample("inframind_fetch_bytes_total"u8, telemetry.FetchBytes);
        w.Family("inframind_fetch_rate_bytes_per_second"u8, "Fetch throughput over the last 8 fetches."u8, "gauge"u8);
        w.Sample("inframind_fetch_rate_bytes_per_second"u8, telemetry.RollingFetchRate);

        w.Family("inframind_mesh_connected"u8, "1 while the scheduler link is connected, else 0."u8, "gauge"u8);
        w.Sample("inframind_mesh_connected"u8, telemetry.MeshState == MeshLinkState.Connected ? 1L : 0L);
        w.Family("inframind_mesh_reconnects_total"u8, "Times the scheduler link was dialled again."u8, "counter"u8);
        w.Sample("inframind_mesh_reconnects_total"u8, telemetry.MeshReconnects);
        if (telemetry.HeartbeatAgeSeconds(now) is { } age)
        {
            w.Family("inframind_mesh_heartbeat_age_seconds"u8, "Seconds since the last heartbeat was sent."u8, "gauge"u8);
            w.Sample("inframind_mesh_heartbeat_age_seconds"u8, age);
        }

        w.Family("inframind_receipts_unacked"u8, "Signed receipts the scheduler has not acknowledged yet."u8, "gauge"u8);
        w.Sample("inframind_receipts_unacked"u8, telemetry.UnackedReceipts);

        if (host?.CpuUtilization is { } cpu)
        {
            w.Family("inframind_host_cpu_utilization"u8, "CPU busy share, 0 to 1, of the agent's cgroup quota when confined, else of the host."u8, "gauge"u8);
            w.Sample("inframind_host_cpu_utilization"u8, cpu);
        }

        if (host?.MemoryUtilization is { } memory)
        {
            w.Family("inframind_host_memory_utilization"u8, "Memory in use, 0 to 1, of the agent's cgroup limit when confined, else of the host."u8, "gauge"u8);
            w.Sample("inframind_host_memory_utilization"u8, memory);
        }

        if (process is { } p)
            WriteProcess(ref w, p);

        w.Commit();
    }

    private static void WriteHistogram(ref ExpositionWriter w, LatencyHistogram histogram)
    {
        Span<long> cumulative = stackalloc long[LatencyHistogram.BoundsMicros.Length + 1];
        long count = histogram.ReadCumulative(cumulative, out long sumMicros);

        w.Family("inframind_job_duration_seconds"u8, "Latency of jobs that ran to a receipt, from acceptance to the signed receipt."u8, "histogram"u8);
        for (int i = 0; i < cumulative.Length; i++)
            w.Labelled("inframind_job_duration_seconds_bucket"u8, "le"u8, LatencyHistogram.BoundLabel(i), cumulative[i]);
        w.Sample("inframind_job_duration_seconds_sum"u8, sumMicros / 1e6);
        w.Sample("inframind_job_duration_seconds_count"u8, count);
    }

    private static void WriteProcess(ref ExpositionWriter w, ProcessSample p)
    {
        if (p.CpuSeconds is { } cpu)
        {
            w.Family("process_cpu_seconds_total"u8, "Total user and system CPU time spent in seconds."u8, "counter"u8);
            w.Sample("process_cpu_seconds_total"u8, cpu);
        }

        if (p.ResidentBytes is { } rss)
        {
            w.Family("process_resident_memory_bytes"u8, "Resident memory size in bytes."u8, "gauge"u8);
            w.Sample("process_resident_memory_bytes"u8, rss);
        }

        if (p.OpenFds is { } fds)
        {
            w.Family("process_open_fds"u8, "Number of open file descriptors."u8, "gauge"u8);
            w.Sample("process_open_fds"u8, fds);
        }

        w.Family("inframind_process_gc_heap_bytes"u8, "Managed heap bytes thought to be allocated."u8, "gauge"u8);
        w.Sample("inframind_process_gc_heap_bytes"u8, p.GcHeapBytes);
        w.Family("inframind_process_gc_allocated_bytes_total"u8, "Managed bytes allocated since the agent started."u8, "counter"u8);
        w.Sample("inframind_process_gc_allocated_bytes_total"u8, p.GcAllocatedBytes);
        w.Family("inframind_process_gc_collections_total"u8, "Garbage collections since the agent started."u8, "counter"u8);
        w.Sample("inframind_process_gc_collections_total"u8, p.GcCollections);

        if (p.Threads is { } threads)
        {
            w.Family("inframind_process_threads"u8, "Operating system threads in the agent process."u8, "gauge"u8);
            w.Sample("inframind_process_threads"u8, threads);
        }
    }

    /// <summary>Appends through one span at a time, advancing the output only when the span runs out or at the end.</summary>
    private ref struct ExpositionWriter
    {
        private const int NumberBytes = 32; // a long is 20 bytes at most, a shortest round-trip double 24

        private readonly IBufferWriter<byte> _output;
        private Span<byte> _span;
        private int _used;

        public ExpositionWriter(IBufferWriter<byte> output)
        {
            _output = output;
            _span = default;
            _used = 0;
        }

        public void Family(ReadOnlySpan<byte> name, ReadOnlySpan<byte> help, ReadOnlySpan<byte> type)
        {
            Raw("# HELP "u8);
            Raw(name);
            Raw(" "u8);
            Raw(help); // help texts are literals here, with no backslash or newline to escape
            Raw("\n# TYPE "u8);
            Raw(name);
            Raw(" "u8);
            Raw(type);
            Raw("\n"u8);
        }

        public void Sample(ReadOnlySpan<byte> name, long value)
        {
            Raw(name);
            Raw(" "u8);
            Number(value);
            Raw("\n"u8);
        }

        public void Sample(ReadOnlySpan<byte> name, double value)
        {
            Raw(name);
            Raw(" "u8);
            Number(value);
            Raw("\n"u8);
        }

        /// <summary>One sample with one label whose value is already safe (an enum name or a bucket bound).</summary>
        public void Labelled(ReadOnlySpan<byte> name, ReadOnlySpan<byte> label, ReadOnlySpan<byte> value, long sample)
        {
            Raw(name);
            Raw("{"u8);
            Raw(label);
            Raw("=\""u8);
            Raw(value);
            Raw("\"} "u8);
            Number(sample);
            Raw("\n"u8);
        }

        public void Raw(scoped ReadOnlySpan<byte> bytes)
        {
            Ensure(bytes.Length);
            bytes.CopyTo(_span[_used..]);
            _used += bytes.Length;
        }

        public void Commit()
        {
            if (_used > 0)
                _output.Advance(_used);
            _used = 0;
            _span = default;
        }

        private void Number(long value)
        {
            Ensure(NumberBytes);
            Utf8Formatter.TryFormat(value, _span[_used..], out int written);
            _used += written;
        }

        private void Number(double value)
        {
            // Go's ParseFloat, which Prometheus uses, reads these three spellings; .NET would write "∞".
            if (double.IsNaN(value))
            {
                Raw("NaN"u8);
            }
            else if (double.IsPositiveInfinity(value))
            {
                Raw("+Inf"u8);
            }
            else if (double.IsNegativeInfinity(value))
            {
                Raw("-Inf"u8);
            }
            else
            {
                Ensure(NumberBytes);
                // "R" is the shortest text that reads back to the same double: "0.1", not "0.10000000000000001".
                value.TryFormat(_span[_used..], out int written, "R", System.Globalization.CultureInfo.InvariantCulture);
                _used += written;
            }
        }

        private void Ensure(int size)
        {
            if (_span.Length - _used >= size)
                return;
            Commit();
            _span = _output.GetSpan(Math.Max(size, 1024));
        }
    }
}

/// <summary>Text-format helpers that need no writer.</summary>
internal static class PrometheusText
{
    /// <summary>
    /// A label value as the exposition format needs it: UTF-8 (a lone surrogate becomes U+FFFD), with backslash,
    /// double quote and line feed escaped as \\, \" and \n. Every other character, unicode included, is allowed as is.
    /// </summary>
    public static byte[] EscapeLabelValue(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        byte[] utf8 = Encoding.UTF8.GetBytes(value);
        int extra = 0;
        foreach (byte b in utf8)
        {
            if (b is (byte)'\\' or (byte)'"' or (byte)'\n')
                extra++;
        }

        if (extra == 0)
            return utf8;
        byte[] escaped = new byte[utf8.Length + extra];
        int at = 0;
        foreach (byte b in utf8)
        {
            if (b is (byte)'\\' or (byte)'"' or (byte)'\n')
            {
                escaped[at++] = (byte)'\\';
                escaped[at++] = b == (byte)'\n' ? (byte)'n' : b;
            }
            else
            {
                escaped[at++] = b;
            }
        }

        return escaped;
    }
}
