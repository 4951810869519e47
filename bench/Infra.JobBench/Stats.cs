using System.Globalization;

namespace InfraMind.Node.JobBench;

/// <summary>Order statistics of a sample set (microseconds in, milliseconds out for the tables).</summary>
internal sealed class Stats
{
    private readonly double[] _sorted;

    public Stats(IEnumerable<double> values)
    {
        _sorted = [.. values.Order()];
        if (_sorted.Length == 0)
            throw new InvalidOperationException("no samples were measured");
    }

    public int Count => _sorted.Length;

    public double Median => _sorted.Length % 2 == 1
        ? _sorted[_sorted.Length / 2]
        : (_sorted[(_sorted.Length / 2) - 1] + _sorted[_sorted.Length / 2]) / 2;

    public double Min => _sorted[0];

    public double Max => _sorted[^1];

    public double Mean => _sorted.Average();

    /// <summary>Nearest-rank percentile: the smallest sample with at least <paramref name="p"/> of the samples at or below it.</summary>
    public double Percentile(double p)
    {
        int rank = (int)Math.Ceiling(p * _sorted.Length);
        return _sorted[Math.Clamp(rank - 1, 0, _sorted.Length - 1)];
    }

    public static string Ms(double us) => (us / 1000).ToString(us < 10_000 ? "0.000" : "0.0", CultureInfo.InvariantCulture) + " ms";
}
