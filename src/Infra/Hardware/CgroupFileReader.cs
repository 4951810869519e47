using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.InteropServices;
using InfraMind.Node.Interop;

namespace InfraMind.Node.Hardware;

/// <summary>
/// Reads small kernel files (procfs, cgroupfs) whole into one pooled buffer, at most
/// <see cref="CgroupText.MaxFileBytes"/>. Each read replaces the last one's bytes, so parse before reading on.
/// </summary>
internal sealed class CgroupFileReader : IDisposable
{
    private byte[]? _buffer = ArrayPool<byte>.Shared.Rent(CgroupText.MaxFileBytes + 1);

    /// <summary>
    /// The file's bytes, or false when it does not exist. Unreadable or over the size cap is an
    /// <see cref="Errors.InfraException"/>: a cgroup file that large is not one.
    /// </summary>
    public bool TryRead(string path, out ReadOnlySpan<byte> content)
    {
        ObjectDisposedException.ThrowIf(_buffer is null, this);
        Span<byte> window = _buffer.AsSpan(0, CgroupText.MaxFileBytes + 1);

        // open, read, close and nothing else: a FileStream adds an fstat and a flock pair to every open, and a warm
        // rest job reads three cgroup files before and three after its request. No buffering either: kernel files
        // report a fake size (4096) and are produced per read.
        int fd = Libc.Open(path, Libc.ORdOnly | Libc.OCloexec);
        if (fd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno is Libc.ENOENT or Libc.ENOTDIR)
            {
                content = default;
                return false;
            }

            Unreadable(path, errno);
        }

        int total = 0;
        try
        {
            while (total < window.Length)
            {
                nint read = Libc.Read(fd, ref window[total], window.Length - total);
                if (read == 0)
                    break;
                if (read < 0)
                {
                    int errno = Marshal.GetLastPInvokeError();
                    if (errno != Libc.EINTR)
                        Unreadable(path, errno);
                    continue;
                }

                total += (int)read;
            }
        }
        finally
        {
            Libc.Close(fd);
        }

        if (total > CgroupText.MaxFileBytes)
            ThrowHelper.ThrowRuntime($"{path} is over {CgroupText.MaxFileBytes / 1024} KiB, so it is not a kernel cgroup file; fix: check what is mounted at that path");
        content = window[..total];
        return true;
    }

    [DoesNotReturn]
    private static void Unreadable(string path, int errno) =>
        ThrowHelper.ThrowRuntime($"cannot read {path}: {Marshal.GetPInvokeErrorMessage(errno)}; fix: run the node as root (or as the user owning the cgroup) and check the file is a regular kernel file");

    public void Dispose()
    {
        if (_buffer is { } buffer)
        {
            _buffer = null;
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
