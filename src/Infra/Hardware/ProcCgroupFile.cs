using System.Text;

namespace InfraMind.Node.Hardware;

/// <summary>
/// One line of /proc/PID/cgroup: "ID:CONTROLLERS:PATH". v1 lines name their controllers ("4:memory:/docker/ID",
/// "2:cpu,cpuacct:/...", "9:name=systemd:/..."); the v2 line is "0::/PATH".
/// </summary>
internal readonly record struct CgroupLine(int HierarchyId, string Controllers, string Path)
{
    public bool IsUnified => HierarchyId == 0 && Controllers.Length == 0;

    /// <summary>Whether this v1 line's controller list holds <paramref name="controller"/> ("cpu" in "cpu,cpuacct").</summary>
    public bool Has(string controller)
    {
        foreach (Range range in Controllers.AsSpan().Split(','))
        {
            if (Controllers.AsSpan()[range].SequenceEqual(controller))
                return true;
        }

        return false;
    }
}

/// <summary>Parses /proc/PID/cgroup from bytes. The paths become folder names, so anything that could climb out of the cgroup root is refused.</summary>
internal static class ProcCgroupFile
{
    private const string Expected = "lines of \"ID:CONTROLLERS:/PATH\"";
    private const string Fix = "fix: check that the process is running and that its procfs is mounted";

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public static List<CgroupLine> Parse(ReadOnlySpan<byte> content, string path)
    {
        var lines = new List<CgroupLine>();
        int lineNumber = 0;
        while (!content.IsEmpty)
        {
            int end = content.IndexOf((byte)'\n');
            ReadOnlySpan<byte> line = end < 0 ? content : content[..end];
            content = end < 0 ? default : content[(end + 1)..];
            lineNumber++;
            if (line.IsEmpty)
                continue;
            lines.Add(ParseLine(line, path, lineNumber));
        }

        if (lines.Count == 0)
            ThrowHelper.ThrowRuntime($"{path} names no cgroup; expected {Expected}; {Fix}");
        if (lines.Count(l => l.IsUnified) > 1)
            ThrowHelper.ThrowRuntime($"{path} has more than one \"0::\" line; expected one unified hierarchy at most; {Fix}");
        return lines;
    }

    private static CgroupLine ParseLine(ReadOnlySpan<byte> line, string path, int lineNumber)
    {
        int first = line.IndexOf((byte)':');
        int second = first < 0 ? -1 : line[(first + 1)..].IndexOf((byte)':');
        if (second < 0)
            Throw(path, lineNumber, line, Expected);
        second += first + 1;

        // The path may itself hold colons; only the first two separate fields.
        ReadOnlySpan<byte> id = line[..first];
        ReadOnlySpan<byte> controllers = line[(first + 1)..second];
        ReadOnlySpan<byte> cgroupPath = line[(second + 1)..];

        if (!CgroupText.TryParseCount(id, out long hierarchy) || hierarchy > int.MaxValue)
            Throw(path, lineNumber, line, "a hierarchy number before the first colon");
        if ((hierarchy == 0) != controllers.IsEmpty)
            Throw(path, lineNumber, line, "\"0::/PATH\" for the unified hierarchy or \"N:CONTROLLERS:/PATH\" for v1");
        if (!IsControllerList(controllers))
            Throw(path, lineNumber, line, "controller names of letters, digits, '_', '=', '-' and ',' only");
        if (!IsSafePath(cgroupPath))
            Throw(path, lineNumber, line, "an absolute cgroup path without \"..\" or NUL");

        string text;
        try
        {
            text = StrictUtf8.GetString(cgroupPath);
        }
        catch (DecoderFallbackException)
        {
            Throw(path, lineNumber, line, "a UTF-8 cgroup path");
            throw;
        }

        return new CgroupLine((int)hierarchy, Encoding.ASCII.GetString(controllers), text);
    }

    private static bool IsControllerList(ReadOnlySpan<byte> controllers)
    {
        // Joined into a folder name ({root}/cpu,cpuacct), so no '/', no '.', nothing to climb with.
        foreach (byte b in controllers)
        {
            if (!(char.IsAsciiLetterOrDigit((char)b) || b is (byte)'_' or (byte)'=' or (byte)'-' or (byte)','))
                return false;
        }

        return true;
    }

    private static bool IsSafePath(ReadOnlySpan<byte> cgroupPath)
    {
        if (cgroupPath.IsEmpty || cgroupPath[0] != (byte)'/' || cgroupPath.Contains((byte)0))
            return false;
        foreach (Range range in cgroupPath.Split((byte)'/'))
        {
            if (cgroupPath[range].SequenceEqual(".."u8))
                return false;
        }

        return true;
    }

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private static void Throw(string path, int lineNumber, ReadOnlySpan<byte> line, string expected) =>
        ThrowHelper.ThrowRuntime($"{path} line {lineNumber} reads \"{CgroupText.Excerpt(line)}\"; expected {expected}; {Fix}");
}
