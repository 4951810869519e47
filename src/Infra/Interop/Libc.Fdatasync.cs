using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace InfraMind.Node.Interop;

internal static partial class Libc
{
    /// <summary>fdatasync(2): the file's data and the metadata needed to read it back, not its timestamps.</summary>
    [LibraryImport("libc.so.6", EntryPoint = "fdatasync", SetLastError = true)]
    public static partial int Fdatasync(SafeFileHandle fd);
}
