namespace InfraMind.Node.Crypto;

/// <summary>
/// Key material from the kernel. .NET's RandomNumberGenerator goes through OpenSSL on Linux, and the node must
/// be able to create its key on a host without libssl (edge boxes, scratch containers), so it reads the
/// kernel's CSPRNG directly: /dev/urandom is the same generator as getrandom(2) once the system has booted.
/// </summary>
internal static class SystemEntropy
{
    public const string DevicePath = "/dev/urandom";

    public static void Fill(Span<byte> destination)
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
