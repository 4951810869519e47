using System.Buffers.Text;
using Microsoft.Win32.SafeHandles;

namespace InfraMind.Node.Telemetry;

/// <summary>
/// Reads and parses procfs files from bytes. Telemetry must never take the node down, so every parser answers
/// false on anything unexpected (garbage, truncation, overflow, a key given twice) and the caller reports "unknown".
/// </summary>
internal static class ProcText
{
    /// <summary>
    /// Reads up to <paramref name="buffer"/>'s length of a kernel file. <paramref name="complete"/> is false when the
    /// file filled the buffer, so the bytes are only its start. False when it cannot be opened or read.
    /// </summary>
    public static bool TryRead(string path, Span<byte> buffer, out int length, out bool complete)
    {
        length = 0;
        complete = false;
        try
        {
            // RandomAccess with no FileStream: one handle, no buffer; procfs files are generated per read and report
            // a fake size, so read until 0.
            using SafeFileHandle handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            while (length < buffer.Length)
            {
                int read = RandomAccess.Read(handle, buffer[length..], length);
                if (read == 0)
                {
                    complete = true;
                    return true;
                }

                length += read;
            }

            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException or ArgumentException)
        {
            length = 0;
            return false;
        }
    }

    /// <summary>A plain unsigned decimal (no sign, no spaces) that fits a long.</summary>
    public static bool TryParseCount(ReadOnlySpan<byte> text, out long value)
    {
        value = 0;
        return !text.IsEmpty
            && char.IsAsciiDigit((char)text[0])
            && Utf8Parser.TryParse(text, out value, out int consumed)
            && consumed == text.Length;
    }

    /// <summary>
    /// The value of "Key:   123 kB" in /proc/PID/status or /proc/meminfo, in bytes when the unit is kB. False when the
    /// key is missing, given twice, or its value is not a count with an optional " kB".
    /// </summary>
    public static bool TryFindKeyed(ReadOnlySpan<byte> content, ReadOnlySpan<byte> key, out long value)
    {
        value = 0;
        bool found = false;
        while (!content.IsEmpty)
        {
            int end = content.IndexOf((byte)'\n');
            if (end < 0)
                break; // the kernel ends every line; an unterminated one was cut off and may hold half a number
            ReadOnlySpan<byte> line = content[..end];
            content = content[(end + 1)..];
            if (line.Length <= key.Length || !line.StartsWith(key) || line[key.Length] != (byte)':')
                continue;
            if (found)
                return false; // ambiguous: not what the kernel writes

            ReadOnlySpan<byte> rest = line[(key.Length + 1)..].Trim(" \t"u8);
            long multiplier = 1;
            if (rest.EndsWith(" kB"u8))
            {
                multiplier = 1024;
                rest = rest[..^3].TrimEnd(" \t"u8);
            }

            if (!TryParseCount(rest, out long parsed) || parsed > long.MaxValue / multiplier)
                return false;
            value = parsed * multiplier;
            found = true;
        }

        return found;
    }

    /// <summary>
    /// utime and stime (clock ticks) from /proc/PID/stat. The command name in field 2 is in parentheses and may hold
    /// spaces and ')' itself, so fields are counted from the last ')'. Every kernel since 2.6 writes 40-odd more fields,
    /// so a file that ends right after stime was cut off.
    /// </summary>
    public static bool TryParseStatCpuTicks(ReadOnlySpan<byte> content, out long userTicks, out long systemTicks)
    {
        userTicks = systemTicks = 0;
        int open = content.IndexOf((byte)'(');
        int close = content.LastIndexOf((byte)')');
        if (open < 0 || close < open)
            return false;

        // After ") ": field 3 (state) is index 0, so utime (field 14) is index 11 and stime (15) index 12.
        ReadOnlySpan<byte> fields = content[(close + 1)..].TrimEnd((byte)'\n');
        if (fields.IsEmpty || fields[0] != (byte)' ')
            return false;
        fields = fields[1..];
        int index = 0;
        foreach (Range range in fields.Split((byte)' '))
        {
            if (fields[range].IsEmpty)
                return false; // two spaces in a row shift every field after them
            if (index == 11 && !TryParseCount(fields[range], out userTicks))
                return false;
            if (index == 12 && !TryParseCount(fields[range], out systemTicks))
                return false;
            if (index == 13)
                return true; // a field after stime proves stime was not cut short
            index++;
        }

        return false;
    }

    /// <summary>
    /// The aggregate "cpu " line of /proc/stat as busy and total jiffies (idle and iowait are not busy; guest time is
    /// already inside user, so it is not added again), and how many "cpuN" lines follow (the online CPUs).
    /// </summary>
    public static bool TryParseProcStat(ReadOnlySpan<byte> content, out long busy, out long total, out int cpus)
    {
        busy = total = 0;
        cpus = 0;
        bool sawAggregate = false;
        while (!content.IsEmpty)
        {
            int end = content.IndexOf((byte)'\n');
            if (end < 0)
                break; // a cut-off last line (the read window ended) is not trusted
            ReadOnlySpan<byte> line = content[..end];
            content = content[(end + 1)..];
            if (!line.StartsWith("cpu"u8))
            {
                if (sawAggregate)
                    break; // cpu lines come first; the rest (intr, ctxt, ...) is not needed
                continue;
            }

            if (line.Length > 3 && char.IsAsciiDigit((char)line[3]))
            {
                cpus++;
                continue;
            }

            if (line.Length < 4 || line[3] != (byte)' ' || sawAggregate)
                return false;
            if (!TryParseCpuFields(line[4..], out busy, out total))
                return false;
            sawAggregate = true;
        }

        return sawAggregate && cpus > 0;
    }

    private static bool TryParseCpuFields(ReadOnlySpan<byte> fields, out long busy, out long total)
    {
        busy = total = 0;
        long idle = 0;
        int index = 0;
        foreach (Range range in fields.TrimStart((byte)' ').Split((byte)' '))
        {
            if (index >= 8)
                break; // guest and guest_nice are counted inside user and nice
            if (!TryParseCount(fields.TrimStart((byte)' ')[range], out long value) || value > long.MaxValue / 16)
                return false;
            total += value;
            if (index is 3 or 4)
                idle += value;
            index++;
        }

        // user nice system idle are in every kernel since 2.4; fewer means a broken line.
        if (index < 4)
            return false;
        busy = total - idle;
        return true;
    }
}
