using System.Runtime.InteropServices;

namespace InfraMind.Node.BundleBench;

/// <summary>
/// CPU time used so far (user + system) by this process, its in-process HTTP server and sendfile included, plus by
/// its waited-for children (sha256sum, openssl), from getrusage(2).
/// </summary>
internal static partial class Cpu
{
    private const int Self = 0;
    private const int Children = -1;

    public static double Seconds() => Of(Self) + Of(Children);

    /// <summary>
    /// CPU time all processes on the machine used so far (busy = everything but idle and iowait), and time the
    /// hypervisor stole, from /proc/stat; NaN where it cannot be read.
    /// </summary>
    public static (double Busy, double Steal) Machine()
    {
        try
        {
            string[] fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries);
            double[] ticks = [.. fields.Skip(1).Take(8).Select(f => double.Parse(f, System.Globalization.CultureInfo.InvariantCulture))];
            const double TicksPerSecond = 100; // USER_HZ
            // user nice system idle iowait irq softirq steal
            double busy = ticks[0] + ticks[1] + ticks[2] + ticks[5] + ticks[6];
            return (busy / TicksPerSecond, ticks[7] / TicksPerSecond);
        }
        catch (Exception e) when (e is IOException or FormatException or IndexOutOfRangeException or UnauthorizedAccessException)
        {
            return (double.NaN, double.NaN);
        }
    }

    private static double Of(int who)
    {
        if (GetRUsage(who, out RUsage usage) != 0)
            return double.NaN;
        return usage.UserSeconds + (usage.UserMicroseconds / 1e6) + usage.SystemSeconds + (usage.SystemMicroseconds / 1e6);
    }

    [LibraryImport("libc", EntryPoint = "getrusage", SetLastError = true)]
    private static partial int GetRUsage(int who, out RUsage usage);

    /// <summary>struct rusage on 64-bit Linux: two timevals, then 14 longs this class does not read.</summary>
    [StructLayout(LayoutKind.Sequential, Size = 144)]
    private struct RUsage
    {
        public long UserSeconds;
        public long UserMicroseconds;
        public long SystemSeconds;
        public long SystemMicroseconds;
    }
}
