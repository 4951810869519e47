using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace InfraMind.Node.Interop;

internal static partial class Libc
{
    /// <summary>CLONE_NEWNET from &lt;sched.h&gt;: join a network namespace.</summary>
    public const int CloneNewNet = 0x40000000;

    /// <summary>setns(2): moves the calling thread into the namespace the descriptor refers to.</summary>
    [LibraryImport("libc.so.6", EntryPoint = "setns", SetLastError = true)]
    public static partial int Setns(SafeFileHandle fd, int nstype);
}
