using System.Security.Cryptography;
using System.Text;
using InfraMind.Node.Errors;

namespace InfraMind.Node.Crypto;

/// <summary>
/// The node key on disk (CONTRACT.md §2): 64 hex characters, optionally 0x-prefixed, like geth's nodekey;
/// the file 0600 in a 0700 folder. A key that group or others can read is refused, never loaded.
/// </summary>
public static class IdentityFile
{
    public const UnixFileMode FileMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    public const UnixFileMode FolderMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    private const UnixFileMode GroupOrOthers =
        UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute |
        UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    // "0x" + 64 hex + optional newline and some whitespace; anything much larger is not a key file.
    private const int MaxFileBytes = 256;

    /// <summary>Loads the key, refusing a missing, malformed or too-open file with an error that names the fix.</summary>
    public static NodeKey Load(string path)
    {
        CheckPermissions(path);

        Span<byte> raw = stackalloc byte[MaxFileBytes + 1];
        Span<byte> secret = stackalloc byte[NodeKey.PrivateKeySize];
        try
        {
            int length = ReadSmallFile(path, raw);
            if (length > MaxFileBytes)
                ThrowHelper.ThrowIdentity($"identity key {path} is not a key file (over {MaxFileBytes} bytes); fix: point node.identity at the key, or create one with `infra init --keygen`");

            Span<char> text = stackalloc char[MaxFileBytes];
            int chars = Encoding.ASCII.GetChars(raw[..length], text);
            ReadOnlySpan<char> hex = text[..chars].Trim();
            bool parsed = Hex.TryDecode(hex, secret);
            text.Clear();
            if (!parsed)
                ThrowHelper.ThrowIdentity($"identity key {path} does not hold 64 hex characters (an optional 0x prefix is allowed); fix: restore the key from backup, or create a new one with `infra init --keygen --force`");

            if (!NodeKey.TryCreate(secret, out NodeKey? key))
                ThrowHelper.ThrowIdentity($"identity key {path} is not a valid secp256k1 private key (zero or above the curve order); fix: create a new one with `infra init --keygen --force`");
            return key!;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(raw);
            CryptographicOperations.ZeroMemory(secret);
        }
    }

    /// <summary>
    /// Refuses a key file that is missing or that anyone but its owner can use. Returns its mode when fine.
    /// </summary>
    public static UnixFileMode CheckPermissions(string path)
    {
        if (!File.Exists(path))
        {
            ThrowHelper.ThrowIdentity(Directory.Exists(path)
                ? $"identity key {path} is a folder, not a key file; fix: set node.identity to the key file's path"
                : $"no identity key at {path}; fix: create one with `infra init --keygen --identity {path}`");
        }

        UnixFileMode mode = File.GetUnixFileMode(path);
        if ((mode & GroupOrOthers) != 0)
            ThrowHelper.ThrowIdentity($"identity key {path} is open to group or others (mode {FormatMode(mode)}); fix: chmod 600 {path}");
        return mode;
    }

    /// <summary>
    /// Creates a new key at <paramref name="path"/>: missing folders are made 0700, the file is written 0600
    /// to a temporary name, flushed and renamed, so a crash never leaves half a key. Refuses to replace an
    /// existing key unless <paramref name="force"/> is set.
    /// </summary>
    public static NodeKey Create(string path, bool force)
    {
        if (File.Exists(path) && !force)
            ThrowHelper.ThrowUsage($"identity key {path} already exists; it was left as it is. To replace it (the node gets a new ID), add --force");
        if (Directory.Exists(path))
            ThrowHelper.ThrowUsage($"{path} is a folder; fix: give --identity the path of a key file");

        string folder = Path.GetDirectoryName(Path.GetFullPath(path))!;
        try
        {
            if (!Directory.Exists(folder))
                Directory.CreateDirectory(folder, FolderMode);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            ThrowHelper.ThrowIdentity($"cannot create the key folder {folder}: {e.Message}; fix: choose a writable path with --identity", e);
        }

        Span<byte> secret = stackalloc byte[NodeKey.PrivateKeySize];
        Span<byte> line = stackalloc byte[2 + (NodeKey.PrivateKeySize * 2) + 1];
        string temporary = Path.Combine(folder, $".{Path.GetFileName(path)}.{Environment.ProcessId}.tmp");
        NodeKey key = NodeKey.Generate(secret);
        try
        {
            Span<char> hex = stackalloc char[2 + (NodeKey.PrivateKeySize * 2)];
            Hex.Encode(secret, hex);
            Encoding.ASCII.GetBytes(hex, line);
            hex.Clear();
            line[^1] = (byte)'\n';

            var options = new FileStreamOptions
            {
                Mode = System.IO.FileMode.CreateNew,
                Access = FileAccess.Write,
                UnixCreateMode = FileMode,
            };
            using (var stream = new FileStream(temporary, options))
            {
                stream.Write(line);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temporary, path, overwrite: force);
            return key;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            key.Dispose();
            TryDelete(temporary);
            if (File.Exists(path) && !force)
                ThrowHelper.ThrowUsage($"identity key {path} already exists; it was left as it is. To replace it, add --force");
            ThrowHelper.ThrowIdentity($"cannot write the identity key {path}: {e.Message}; fix: choose a writable path with --identity", e);
            throw;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(secret);
            CryptographicOperations.ZeroMemory(line);
        }
    }

    /// <summary>Octal mode as `ls -l` users think of it, e.g. 0644.</summary>
    public static string FormatMode(UnixFileMode mode) => "0" + Convert.ToString((int)mode & 0x1ff, 8);

    private static int ReadSmallFile(string path, Span<byte> buffer)
    {
        try
        {
            using var stream = new FileStream(path, System.IO.FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 0);
            int total = 0;
            while (total < buffer.Length)
            {
                int read = stream.Read(buffer[total..]);
                if (read == 0)
                    break;
                total += read;
            }

            return total;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            ThrowHelper.ThrowIdentity($"cannot read identity key {path}: {e.Message}; fix: run as the key's owner, or point node.identity elsewhere", e);
            return 0;
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
            // Best effort: a leftover temporary file holds a key nobody uses.
        }
    }
}
