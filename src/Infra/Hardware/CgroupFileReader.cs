using System.Buffers;

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
        int total = 0;
        try
        {
            // No buffering: kernel files report a fake size (4096) and are produced per read.
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, bufferSize: 0);
            while (total < window.Length)
            {
                int read = stream.Read(window[total..]);
                if (read == 0)
                    break;
                total += read;
            }
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            content = default;
            return false;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            ThrowHelper.ThrowRuntime($"cannot read {path}: {e.Message}; fix: run the node as root (or as the user owning the cgroup) and check the file is a regular kernel file", e);
        }

        if (total > CgroupText.MaxFileBytes)
            ThrowHelper.ThrowRuntime($"{path} is over {CgroupText.MaxFileBytes / 1024} KiB, so it is not a kernel cgroup file; fix: check what is mounted at that path");
        content = window[..total];
        return true;
    }

    public void Dispose()
    {
        if (_buffer is { } buffer)
        {
            _buffer = null;
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
