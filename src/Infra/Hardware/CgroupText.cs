using System.Buffers.Text;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text;

namespace InfraMind.Node.Hardware;

/// <summary>
/// The value formats of cgroup files, parsed from bytes: a count, "max", cgroup v1's -1 and near-LONG_MAX
/// sentinels, "quota period" and "key value" lines. Pure functions; every failure names the file and what
/// was expected, so a tampered or truncated file is an error and never a guessed value.
/// </summary>
internal static class CgroupText
{
    /// <summary>Real cgroup files are a few hundred bytes; anything over this is not one.</summary>
    public const int MaxFileBytes = 64 * 1024;

    /// <summary>
    /// v1 prints "no limit" as PAGE_COUNTER_MAX pages in bytes: LONG_MAX rounded down to the page size, so
    /// 0x7FFFFFFFFFFFF000 with 4 KiB pages but 0x7FFFFFFFFFFF0000 with arm64's 64 KiB pages, and kernels
    /// before 3.19 print LONG_MAX itself. Any value from LONG_MAX rounded down to 1 MiB up is "unlimited":
    /// nobody limits a container to 8 EiB.
    /// </summary>
    public const long V1UnlimitedFloor = 0x7FFF_FFFF_FFF0_0000;

    private const string Fix = "fix: check that the process is still running and that the host's cgroup filesystem is what the kernel mounted";

    /// <summary>A plain decimal count: digits only (no sign, no spaces), fits a long.</summary>
    public static bool TryParseCount(ReadOnlySpan<byte> text, out long value)
    {
        // Utf8Parser would take a sign; the kernel never writes one, so a sign means a tampered file.
        value = 0;
        return !text.IsEmpty
            && char.IsAsciiDigit((char)text[0])
            && Utf8Parser.TryParse(text, out value, out int consumed)
            && consumed == text.Length;
    }

    /// <summary>One value file's content without its trailing newline; empty is an error.</summary>
    public static ReadOnlySpan<byte> Value(ReadOnlySpan<byte> content, string path, string expected)
    {
        if (content.Length > 0 && content[^1] == (byte)'\n')
            content = content[..^1];
        if (content.IsEmpty)
            ThrowHelper.ThrowRuntime($"cgroup file {path} is empty; expected {expected}; {Fix}");
        return content;
    }

    public static long ParseCount(ReadOnlySpan<byte> content, string path, string expected)
    {
        ReadOnlySpan<byte> text = Value(content, path, expected);
        if (!TryParseCount(text, out long value))
            ThrowBadValue(path, expected, text);
        return value;
    }

    /// <summary>"max" (null, no limit) or a count: v2 limits and pids.max in both versions.</summary>
    public static long? ParseCountOrMax(ReadOnlySpan<byte> content, string path, string expected)
    {
        ReadOnlySpan<byte> text = Value(content, path, expected);
        if (text.SequenceEqual("max"u8))
            return null;
        if (!TryParseCount(text, out long value))
            ThrowBadValue(path, expected, text);
        return value;
    }

    /// <summary>A v1 byte limit: a count, where the near-LONG_MAX sentinel means no limit (null).</summary>
    public static long? ParseV1ByteLimit(ReadOnlySpan<byte> content, string path)
    {
        long value = ParseCount(content, path, "a byte count");
        return value >= V1UnlimitedFloor ? null : value;
    }

    /// <summary>cpu.cfs_quota_us: -1 (null, no quota) or a positive count of microseconds.</summary>
    public static long? ParseV1Quota(ReadOnlySpan<byte> content, string path)
    {
        const string expected = "-1 or a positive number of microseconds";
        ReadOnlySpan<byte> text = Value(content, path, expected);
        if (text.SequenceEqual("-1"u8))
            return null;
        if (!TryParseCount(text, out long value) || value == 0)
            ThrowBadValue(path, expected, text);
        return value;
    }

    /// <summary>A positive count, e.g. a CFS period (0 would divide by zero later).</summary>
    public static long ParsePositive(ReadOnlySpan<byte> content, string path, string expected)
    {
        ReadOnlySpan<byte> text = Value(content, path, expected);
        if (!TryParseCount(text, out long value) || value == 0)
            ThrowBadValue(path, expected, text);
        return value;
    }

    /// <summary>v2 cpu.max: "max 100000" or "50000 100000" (quota and period in microseconds).</summary>
    public static (long? QuotaMicros, long PeriodMicros) ParseCpuMax(ReadOnlySpan<byte> content, string path)
    {
        const string expected = "\"max PERIOD\" or \"QUOTA PERIOD\" with positive microsecond counts";
        ReadOnlySpan<byte> text = Value(content, path, expected);
        int space = text.IndexOf((byte)' ');
        if (space < 0)
            ThrowBadValue(path, expected, text);

        ReadOnlySpan<byte> quotaText = text[..space];
        ReadOnlySpan<byte> periodText = text[(space + 1)..];
        long? quota = null;
        if (!quotaText.SequenceEqual("max"u8))
        {
            if (!TryParseCount(quotaText, out long parsed) || parsed == 0)
                ThrowBadValue(path, expected, text);
            quota = parsed;
        }

        if (!TryParseCount(periodText, out long period) || period == 0)
            ThrowBadValue(path, expected, text);
        return (quota, period);
    }

    /// <summary>
    /// The value of <paramref name="key"/> in a flat-keyed file (cpu.stat, memory.events, memory.oom_control),
    /// or null when the file has no such line. Every line must be "key count": one garbage line makes the
    /// whole file untrustworthy, and a key given twice is ambiguous.
    /// </summary>
    public static long? FindKeyed(ReadOnlySpan<byte> content, ReadOnlySpan<byte> key, string path)
    {
        const string expected = "lines of \"key count\"";
        if (content.IsEmpty)
            ThrowHelper.ThrowRuntime($"cgroup file {path} is empty; expected {expected}; {Fix}");

        long? found = null;
        int lineNumber = 0;
        while (!content.IsEmpty)
        {
            int end = content.IndexOf((byte)'\n');
            ReadOnlySpan<byte> line = end < 0 ? content : content[..end];
            content = end < 0 ? default : content[(end + 1)..];
            lineNumber++;

            int space = line.IndexOf((byte)' ');
            long value = 0;
            if (space <= 0 || !TryParseCount(line[(space + 1)..], out value))
                ThrowHelper.ThrowRuntime($"cgroup file {path} line {lineNumber} reads \"{Excerpt(line)}\"; expected {expected}; {Fix}");
            if (!line[..space].SequenceEqual(key))
                continue;
            if (found is not null)
                ThrowHelper.ThrowRuntime($"cgroup file {path} gives \"{Excerpt(key)}\" twice; expected it once; {Fix}");
            found = value;
        }

        return found;
    }

    /// <summary>Whether a space-separated list (v2 cgroup.controllers) names <paramref name="controller"/>.</summary>
    public static bool ListsWord(ReadOnlySpan<byte> content, string controller)
    {
        ReadOnlySpan<byte> words = content.TrimEnd((byte)'\n');
        foreach (Range range in words.Split((byte)' '))
        {
            if (Ascii.Equals(words[range], controller))
                return true;
        }

        return false;
    }

    [DoesNotReturn]
    public static void ThrowBadValue(string path, string expected, ReadOnlySpan<byte> found) =>
        ThrowHelper.ThrowRuntime($"cgroup file {path} reads \"{Excerpt(found)}\"; expected {expected}; {Fix}");

    /// <summary>As <see cref="ThrowBadValue(string, string, ReadOnlySpan{byte})"/>, usable where a value is expected.</summary>
    [DoesNotReturn]
    public static T ThrowBadValue<T>(string path, string expected, ReadOnlySpan<byte> found)
    {
        ThrowBadValue(path, expected, found);
        return default;
    }

    /// <summary>The first bytes of hostile input, printable, for an error message.</summary>
    public static string Excerpt(ReadOnlySpan<byte> bytes)
    {
        const int shown = 40;
        Span<char> text = stackalloc char[(shown * 4) + 3];
        int length = 0;
        foreach (byte b in bytes[..Math.Min(bytes.Length, shown)])
        {
            if (b is >= 0x20 and < 0x7F && b != (byte)'"' && b != (byte)'\\')
            {
                text[length++] = (char)b;
            }
            else
            {
                text[length++] = '\\';
                text[length++] = 'x';
                ((int)b).TryFormat(text[length..], out int written, "x2", CultureInfo.InvariantCulture);
                length += written;
            }
        }

        if (bytes.Length > shown)
        {
            "...".CopyTo(text[length..]);
            length += 3;
        }

        return new string(text[..length]);
    }
}
