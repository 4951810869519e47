using System.Globalization;

namespace InfraMind.Node.Configuration;

/// <summary>
/// Byte counts as operators and Kubernetes write them: a plain number, binary suffixes Ki Mi Gi Ti, or decimal
/// suffixes K M G T (k accepted too).
/// </summary>
public static class ByteSize
{
    public static bool TryParse(ReadOnlySpan<char> text, out long bytes)
    {
        bytes = 0;
        text = text.Trim();
        int digits = 0;
        while (digits < text.Length && char.IsAsciiDigit(text[digits]))
            digits++;
        if (digits == 0 || !long.TryParse(text[..digits], NumberStyles.None, CultureInfo.InvariantCulture, out long number))
            return false;

        long multiplier = text[digits..] switch
        {
            "" => 1,
            "Ki" => 1L << 10,
            "Mi" => 1L << 20,
            "Gi" => 1L << 30,
            "Ti" => 1L << 40,
            "k" or "K" => 1_000,
            "M" => 1_000_000,
            "G" => 1_000_000_000,
            "T" => 1_000_000_000_000,
            _ => 0,
        };
        if (multiplier == 0 || number > long.MaxValue / multiplier)
            return false;
        bytes = number * multiplier;
        return true;
    }

    /// <summary>The shortest exact binary form, e.g. 10Gi, 512Mi, 1000.</summary>
    public static string Format(long bytes)
    {
        string[] suffixes = ["Ti", "Gi", "Mi", "Ki"];
        for (int i = 0; i < suffixes.Length; i++)
        {
            long unit = 1L << (10 * (4 - i));
            if (bytes != 0 && bytes % unit == 0)
                return (bytes / unit).ToString(CultureInfo.InvariantCulture) + suffixes[i];
        }

        return bytes.ToString(CultureInfo.InvariantCulture);
    }
}
