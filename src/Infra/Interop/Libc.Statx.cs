using System.Runtime.InteropServices;

namespace InfraMind.Node.Interop;

internal static partial class Libc
{
    /// <summary>AT_FDCWD from &lt;fcntl.h&gt;: a relative path is taken from the working folder.</summary>
    public const int AtFdCwd = -100;

    /// <summary>STATX_TYPE | STATX_MODE | STATX_UID from &lt;linux/stat.h&gt;.</summary>
    public const uint StatxTypeModeUid = 0x1 | 0x2 | 0x8;

    /// <summary>S_IFMT and S_IFREG from &lt;sys/stat.h&gt;.</summary>
    public const uint FileTypeMask = 0xF000;
    public const uint RegularFile = 0x8000;
    public const uint SocketFile = 0xC000;

    /// <summary>sizeof(struct statx): the same on every architecture, which is why statx is used and not stat.</summary>
    public const int StatxSize = 256;

    /// <summary>offsetof(struct statx, stx_uid); checked against the C header by a test.</summary>
    public const int StatxUidOffset = 20;

    /// <summary>offsetof(struct statx, stx_mode), a 16-bit field.</summary>
    public const int StatxModeOffset = 28;

    /// <summary>statx(2): .NET reports a file's mode but not its owner.</summary>
    [LibraryImport("libc.so.6", EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Statx(int dirfd, string path, int flags, uint mask, ref byte buffer);

    /// <summary>geteuid(2): the user whose files the agent may trust.</summary>
    [LibraryImport("libc.so.6", EntryPoint = "geteuid")]
    public static partial uint Geteuid();

    /// <summary>The owner's uid of <paramref name="path"/> (links followed), or the errno when statx fails.</summary>
    public static bool TryGetOwner(string path, out uint uid, out int errno) => TryStat(path, out uid, out _, out errno);

    /// <summary>Owner and st_mode (file type and permission bits) of <paramref name="path"/>, links followed.</summary>
    public static bool TryStat(string path, out uint uid, out uint mode, out int errno)
    {
        Span<byte> buffer = stackalloc byte[StatxSize];
        buffer.Clear();
        if (Statx(AtFdCwd, path, 0, StatxTypeModeUid, ref MemoryMarshal.GetReference(buffer)) != 0)
        {
            uid = 0;
            mode = 0;
            errno = Marshal.GetLastPInvokeError();
            return false;
        }

        uid = MemoryMarshal.Read<uint>(buffer[StatxUidOffset..]);
        mode = MemoryMarshal.Read<ushort>(buffer[StatxModeOffset..]);
        errno = 0;
        return true;
    }
}
