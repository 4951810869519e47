using System.Runtime.InteropServices;
using System.Security.Cryptography;
using InfraMind.Node.Crypto;

namespace InfraMind.Node.BundleBench;

/// <summary>
/// The benchmark payload: deterministic pseudo-random bytes (xorshift64*), so every run hashes the same
/// incompressible-looking data without reading /dev/urandom.
/// </summary>
internal static class Payload
{
    /// <summary>Writes <paramref name="length"/> bytes to <paramref name="path"/> and returns their sha256.</summary>
    public static Hash32 Write(string path, long length, ulong seed)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(length);
        ulong state = seed == 0 ? 0x9E3779B97F4A7C15UL : seed;
        byte[] buffer = new byte[1 << 20];
        Span<ulong> words = MemoryMarshal.Cast<byte, ulong>(buffer.AsSpan());
        using var sha256 = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        using (var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 0))
        {
            for (long done = 0; done < length;)
            {
                for (int i = 0; i < words.Length; i++)
                {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    words[i] = state * 0x2545F4914F6CDD1DUL;
                }

                int count = (int)Math.Min(buffer.Length, length - done);
                file.Write(buffer, 0, count);
                sha256.AppendData(buffer, 0, count);
                done += count;
            }
        }

        Hash32 digest = default;
        sha256.GetHashAndReset(digest);
        return digest;
    }

    /// <summary>Reads a whole file once and throws the bytes away: puts it in the page cache.</summary>
    public static long Warm(string path)
    {
        byte[] buffer = new byte[1 << 20];
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 0);
        long total = 0;
        int read;
        while ((read = file.Read(buffer)) > 0)
            total += read;
        return total;
    }

    /// <summary>sha256 of a file, read in 1 MiB pieces.</summary>
    public static Hash32 HashFile(string path)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 0);
        Hash32 digest = default;
        SHA256.HashData(file, digest);
        return digest;
    }
}
