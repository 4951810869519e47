using System.Collections.Immutable;

namespace InfraMind.Node.Telemetry;

/// <summary>
/// A fixed-bucket histogram of job latencies, lock-free: one Interlocked increment per observation and the sum
/// kept in whole microseconds so it adds exactly under contention (a double sum would need a CAS loop and drifts).
/// Buckets span 10 ms to 10 min, the range from a tiny stdio model to the longest deadline a job gets.
/// </summary>
public sealed class LatencyHistogram
{
    /// <summary>Upper bounds in microseconds, inclusive (Prometheus "le"); +Inf is implicit.</summary>
    internal static readonly long[] BoundsMicros =
    [
        10_000, 25_000, 50_000, 100_000, 250_000, 500_000,
        1_000_000, 2_500_000, 5_000_000, 10_000_000, 30_000_000,
        60_000_000, 120_000_000, 300_000_000, 600_000_000,
    ];

    /// <summary>The same bounds as Prometheus writes them, so a scrape formats no doubles for "le".</summary>
    internal static ReadOnlySpan<byte> BoundLabel(int index) => index switch
    {
        0 => "0.01"u8,
        1 => "0.025"u8,
        2 => "0.05"u8,
        3 => "0.1"u8,
        4 => "0.25"u8,
        5 => "0.5"u8,
        6 => "1"u8,
        7 => "2.5"u8,
        8 => "5"u8,
        9 => "10"u8,
        10 => "30"u8,
        11 => "60"u8,
        12 => "120"u8,
        13 => "300"u8,
        14 => "600"u8,
        _ => "+Inf"u8,
    };

    /// <summary>Per-bucket (not cumulative) counts; the last slot is the overflow above 600 s.</summary>
    private readonly long[] _counts = new long[BoundsMicros.Length + 1];
    private long _sumMicros;

    public static ImmutableArray<double> UpperBoundsSeconds { get; } = [.. BoundsMicros.Select(b => b / 1e6)];

    /// <summary>Adds one latency; a negative one (a clock stepping back) counts as zero.</summary>
    public void Observe(TimeSpan latency)
    {
        long micros = Math.Max(0, latency.Ticks / TimeSpan.TicksPerMicrosecond);
        Interlocked.Increment(ref _counts[BucketOf(micros)]);
        Interlocked.Add(ref _sumMicros, micros);
    }

    /// <summary>
    /// Copies the cumulative counts into <paramref name="cumulative"/> (length <see cref="BoundsMicros"/> + 1, the last
    /// being +Inf) and returns the total. The count is taken from the buckets themselves, so +Inf and _count always agree
    /// even while observations land; the sum may lead or lag by the observation in flight.
    /// </summary>
    internal long ReadCumulative(Span<long> cumulative, out long sumMicros)
    {
        long running = 0;
        for (int i = 0; i < _counts.Length; i++)
        {
            running += Volatile.Read(ref _counts[i]);
            cumulative[i] = running;
        }

        sumMicros = Volatile.Read(ref _sumMicros);
        return running;
    }

    public LatencyHistogramSnapshot Snapshot()
    {
        Span<long> cumulative = stackalloc long[BoundsMicros.Length + 1];
        long count = ReadCumulative(cumulative, out long sum);
        return new LatencyHistogramSnapshot(UpperBoundsSeconds, [.. cumulative], count, sum / 1e6);
    }

    internal static int BucketOf(long micros)
    {
        long[] bounds = BoundsMicros;
        for (int i = 0; i < bounds.Length; i++)
        {
            if (micros <= bounds[i])
                return i;
        }

        return bounds.Length;
    }
}

/// <summary>
/// A histogram at one moment: <see cref="CumulativeCounts"/> has one entry per bound in <see cref="UpperBoundsSeconds"/>
/// plus a last one for +Inf, which equals <see cref="Count"/>.
/// </summary>
public sealed record LatencyHistogramSnapshot(
    ImmutableArray<double> UpperBoundsSeconds, ImmutableArray<long> CumulativeCounts, long Count, double SumSeconds);
