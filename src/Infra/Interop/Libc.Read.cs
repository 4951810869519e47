using System.Runtime.InteropServices;

namespace InfraMind.Node.Interop;

internal static partial class Libc
{
    public const int ENOENT = 2;
    public const int EINTR = 4;
    public const int ENOTDIR = 20;

    /// <summary>read(2): kernel files are read with open, read and close alone (see CgroupFileReader).</summary>
    [LibraryImport("libc.so.6", EntryPoint = "read", SetLastError = true)]
    public static partial nint Read(int fd, ref byte buffer, nint count);
}
