using System.Runtime.InteropServices;

namespace InfraMind.Node.Interop;

internal static partial class Libc
{
    /// <summary>O_RDONLY and O_CLOEXEC from &lt;fcntl.h&gt;, equal on x86-64 and arm64 (O_DIRECTORY is not, so it is left out).</summary>
    public const int ORdOnly = 0;
    public const int OCloexec = 0x80000;

    /// <summary>open(2): here only to get a descriptor of a folder for fsync.</summary>
    [LibraryImport("libc.so.6", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Open(string path, int flags);

    /// <summary>fsync(2) on a folder makes a file's creation or rename in it durable; .NET has no call for that.</summary>
    [LibraryImport("libc.so.6", EntryPoint = "fsync", SetLastError = true)]
    public static partial int Fsync(int fd);

    [LibraryImport("libc.so.6", EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);

    /// <summary>fsyncs a folder; a failure is returned as errno, not thrown, since callers decide how bad it is.</summary>
    public static int FsyncDirectory(string path)
    {
        int fd = Open(path, ORdOnly | OCloexec);
        if (fd < 0)
            return Marshal.GetLastPInvokeError();
        int rc = Fsync(fd);
        int errno = rc < 0 ? Marshal.GetLastPInvokeError() : 0;
        Close(fd);
        return errno;
    }
}
