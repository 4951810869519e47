using System.Runtime.InteropServices;
using InfraMind.Node.Interop;

namespace InfraMind.Node.Crypto;

/// <summary>
/// Key material from the kernel. .NET's RandomNumberGenerator goes through OpenSSL on Linux, and the node must
/// be able to create its key on a host without libssl (edge boxes, scratch containers), so it asks the kernel's
/// CSPRNG directly: getrandom(2), which needs no open descriptor and no /dev (every nonce the pool computes takes
/// 32 bytes), and /dev/urandom, the same generator once the system has booted, on a kernel too old for it.
/// </summary>
internal static class SystemEntropy
{
    public const string DevicePath = "/dev/urandom";

    public static void Fill(Span<byte> destination)
    {
        while (!destination.IsEmpty)
        {
            nint read = Libc.Getrandom(ref MemoryMarshal.GetReference(destination), (nuint)destination.Length, 0);
            if (read > 0)
            {
                destination = destination[(int)read..];
                continue;
            }

            int errno = read < 0 ? Marshal.GetLastPInvokeError() : 0;
            if (errno == Libc.EINTR)
                continue; // a signal before any byte was copied (large requests); ask again
            if (errno == Libc.ENOSYS)
            {
                FillFromDevice(destination);
                return;
            }

            ThrowHelper.ThrowRuntime($"getrandom(2) failed (errno {errno}, {read} bytes); fix: check the kernel and any seccomp filter around the node");
        }
    }

    private static void FillFromDevice(Span<byte> destination)
    {
        try
        {
            using var device = new FileStream(DevicePath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, bufferSize: 0);
            while (!destination.IsEmpty)
            {
                int read = device.Read(destination);
                if (read <= 0)
                    ThrowHelper.ThrowRuntime($"{DevicePath} returned no data; fix: check that /dev is mounted");
                destination = destination[read..];
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            ThrowHelper.ThrowRuntime($"cannot read {DevicePath}: {e.Message}; fix: make /dev/urandom available to the node (systemd PrivateDevices keeps it)", e);
        }
    }
}
