using System.Runtime.InteropServices;

namespace InfraMind.Node.Interop;

internal static partial class Libc
{
    /// <summary>SCHED_IDLE from &lt;sched.h&gt; (Linux): run only when no other thread wants the CPU.</summary>
    public const int SchedIdle = 5;

    /// <summary>
    /// sched_setscheduler(2); pid 0 is the calling thread. <paramref name="priority"/> is struct sched_param's one
    /// field (0 for SCHED_IDLE); an int passed by reference has its layout.
    /// </summary>
    [LibraryImport("libc.so.6", EntryPoint = "sched_setscheduler", SetLastError = true)]
    public static partial int SchedSetscheduler(int pid, int policy, in int priority);

    /// <summary>gettid(2): the calling thread's kernel id, its folder under /proc/self/task.</summary>
    [LibraryImport("libc.so.6", EntryPoint = "gettid")]
    public static partial int GetTid();
}
