using System.Globalization;
using InfraMind.Node.Interop;

namespace InfraMind.Node.Agent;

/// <summary>
/// Once the node is serving, drops the pages of its executable and libraries from its own page tables: the kernel maps
/// 64 KiB around each page a start touches (config, key, receipt log recovery, engine probe, every one-time path), so an
/// idle node counted about 8 MB of its 11 MB executable and 3 MB of libcrypto as resident. The pages stay in the page
/// cache; what the node goes on using comes back at the next touch as a minor fault (no disk read), and what it does not
/// use stops counting against it. Measured: an idle node 19.5–19.8 → 17.4–17.6 MiB once its periodic work has run (14.0
/// MiB in its first 20 s); the soak's peak 35.4–37.5 → 31.5–33.8 MiB with jobs per second unchanged (bench/README.md,
/// "Start-up pages").
/// </summary>
/// <remarks>
/// Only mappings of a file, not writable, with no private copy of any page, resident or swapped out (smaps'
/// <c>Anonymous: 0 kB</c> and <c>Swap: 0 kB</c>): for those
/// madvise(MADV_DONTNEED) only unmaps, and a refault reads the same bytes back. Passed over: a private mapping with
/// private copies (the loader's relocated read-only data, RELRO) would lose them; locked and device mappings (flags
/// lo, io, pf, mm; paths under /dev/) need not fault back in; and files that are deleted or memfds (the JIT's double
/// mapped code when the node runs as `dotnet infra.dll`), which can be unmapped and their addresses reused while the
/// listing is read, where an unmap would then hit whatever took the address. A start's own files stay mapped: nothing
/// in the node unloads a library.
/// </remarks>
public static class StartupPageRelease
{
    /// <summary>A mapping that can be released: [Start, End) of Path, ResidentKiB of it resident when read.</summary>
    public readonly record struct Region(ulong Start, ulong End, long ResidentKiB, string Path);

    /// <summary>What <see cref="Run"/> did: the regions released, the KiB they had resident, the ones madvise refused.</summary>
    public readonly record struct Outcome(int Regions, long ReleasedKiB, int Refused);

    /// <summary>Releases the eligible mappings of /proc/self/smaps. Never throws: a host without it releases nothing.</summary>
    public static Outcome Run(string smapsPath = "/proc/self/smaps")
    {
        List<Region> regions;
        try
        {
            using var reader = new StreamReader(smapsPath);
            regions = Eligible(reader);
        }
        catch (IOException)
        {
            return default;
        }
        catch (UnauthorizedAccessException)
        {
            return default;
        }

        return Release(regions);
    }

    /// <summary>madvise(MADV_DONTNEED) on each region; regions refused (already gone, locked since) are counted, not fatal.</summary>
    public static Outcome Release(IEnumerable<Region> regions)
    {
        int released = 0, refused = 0;
        long kib = 0;
        foreach (Region r in regions)
        {
            if (Libc.Madvise((nint)r.Start, (nuint)(r.End - r.Start), Libc.MADV_DONTNEED) == 0)
            {
                released++;
                kib += r.ResidentKiB;
            }
            else
            {
                refused++;
            }
        }

        return new Outcome(released, kib, refused);
    }

    /// <summary>
    /// The mappings of an smaps listing that are safe to release. A mapping whose header or fields do not parse, or
    /// whose <c>Anonymous</c> or <c>Swap</c> line is missing (a listing cut short), is left alone.
    /// </summary>
    public static List<Region> Eligible(TextReader smaps)
    {
        var regions = new List<Region>();
        Region? current = null;
        bool safe = false;
        long anonymousKiB = -1, swapKiB = -1;
        string? line;
        while ((line = smaps.ReadLine()) is not null)
        {
            if (TryHeader(line, out Region header, out bool releasable))
            {
                Keep();
                current = header;
                safe = releasable;
                anonymousKiB = -1;
                swapKiB = -1;
            }
            else if (current is { } region)
            {
                if (TryField(line, "Rss:", out long rss))
                    current = region with { ResidentKiB = rss };
                else if (TryField(line, "Anonymous:", out long anonymous))
                    anonymousKiB = anonymous;
                else if (TryField(line, "Swap:", out long swap))
                    swapKiB = swap;
                else if (line.StartsWith("VmFlags:", StringComparison.Ordinal) && HasSpecialFlag(line))
                    safe = false;
            }
        }

        Keep();
        return regions;

        void Keep()
        {
            if (current is { } region && safe && anonymousKiB == 0 && swapKiB == 0)
                regions.Add(region);
            current = null;
        }
    }

    /// <summary>
    /// One mapping's line of /proc/PID/maps (or the first of its smaps entry), e.g. "55d0c6a00000-55d0c6b00000 r-xp
    /// 00000000 08:01 1234   /usr/local/bin/infra". <paramref name="releasable"/>: not writable, and a file on disk (a
    /// path that starts with '/': [heap], [stack], [vdso] and anonymous mappings have none; the path may hold spaces).
    /// </summary>
    internal static bool TryHeader(string line, out Region region, out bool releasable)
    {
        region = default;
        releasable = false;
        string[] fields = line.Split(' ', 6, StringSplitOptions.RemoveEmptyEntries);
        if (fields.Length < 5)
            return false;
        int dash = fields[0].IndexOf('-', StringComparison.Ordinal);
        if (dash <= 0
            || !ulong.TryParse(fields[0].AsSpan(0, dash), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out ulong start)
            || !ulong.TryParse(fields[0].AsSpan(dash + 1), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out ulong end)
            || end <= start || fields[1].Length != 4)
        {
            return false;
        }

        string path = fields.Length == 6 ? fields[5].Trim() : string.Empty;
        releasable = fields[1][1] == '-' && path.StartsWith('/') && !path.StartsWith("/dev/", StringComparison.Ordinal)
            && !path.StartsWith("/memfd:", StringComparison.Ordinal) && !path.EndsWith(" (deleted)", StringComparison.Ordinal);
        region = new Region(start, end, 0, path);
        return true;
    }

    private static bool TryField(string line, string name, out long kib)
    {
        kib = 0;
        if (!line.StartsWith(name, StringComparison.Ordinal))
            return false;
        ReadOnlySpan<char> value = line.AsSpan(name.Length).Trim();
        return value.EndsWith(" kB", StringComparison.Ordinal)
            && long.TryParse(value[..^3], NumberStyles.None, CultureInfo.InvariantCulture, out kib);
    }

    // lo: locked; io: I/O memory; pf: raw page frames; mm: mixed map (a driver's pages).
    private static bool HasSpecialFlag(string flagsLine)
    {
        ReadOnlySpan<char> flags = flagsLine.AsSpan("VmFlags:".Length);
        foreach (Range flag in flags.Split(' '))
        {
            if (flags[flag] is "lo" or "io" or "pf" or "mm")
                return true;
        }

        return false;
    }
}
