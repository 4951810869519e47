using System.Runtime.InteropServices;

namespace InfraMind.Node.Interop;

internal static partial class Libc
{
    public const int MADV_DONTNEED = 4; // the same on x86-64 and arm64 Linux

    /// <summary>madvise(2) (see StartupPageRelease).</summary>
    [LibraryImport("libc.so.6", EntryPoint = "madvise", SetLastError = true)]
    public static partial int Madvise(nint address, nuint length, int advice);
}
