using System.Runtime.InteropServices;

namespace InfraMind.Node.Interop;

internal static partial class Libc
{
    public const int ENOSYS = 38;

    /// <summary>
    /// getrandom(2) with no flags: the kernel's CSPRNG, blocking only until it is first seeded at boot. glibc 2.25+;
    /// a kernel before 3.17 answers ENOSYS.
    /// </summary>
    [LibraryImport("libc.so.6", EntryPoint = "getrandom", SetLastError = true)]
    public static partial nint Getrandom(ref byte buffer, nuint length, uint flags);
}
