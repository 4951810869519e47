using System.Globalization;

namespace InfraMind.Node.Configuration;

/// <summary>CPU amounts as Kubernetes and model.yaml write them: CPUs (2, 0.5) or millicores (500m).</summary>
public static class CpuQuantity
{
    /// <summary>Parses into millicores, rounding a fraction of a millicore up; at most 1024 CPUs.</summary>
    public static bool TryParse(ReadOnlySpan<char> text, out long millicores)
    {
        millicores = 0;
        if (text.EndsWith("m"))
            return long.TryParse(text[..^1], NumberStyles.None, CultureInfo.InvariantCulture, out millicores) && millicores is > 0 and <= 1024 * 1000;
        if (!decimal.TryParse(text, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out decimal cpus) || cpus <= 0 || cpus > 1024)
            return false;
        millicores = (long)Math.Ceiling(cpus * 1000);
        return true;
    }
}
