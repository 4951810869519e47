using System.Globalization;
using InfraMind.Node.Crypto;
using InfraMind.Node.Errors;

namespace InfraMind.Node.Doctor;

/// <summary>
/// The key's permissions (CONTRACT.md §2): the file loads, is 0600 (no group or other bits), is owned by the user
/// running the check, and sits in a folder nobody else can write (else the key can be swapped for another).
/// </summary>
public static class IdentityCheck
{
    private const string Name = "identity";

    private const UnixFileMode GroupOrOthersWrite = UnixFileMode.GroupWrite | UnixFileMode.OtherWrite;

    private const UnixFileMode GroupOrOthersAny =
        UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute |
        UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    public static CheckResult Run(string path) => Run(path, Interop.Libc.Geteuid());

    /// <summary>Checks the key at <paramref name="path"/> for the user <paramref name="expectedOwner"/> (the agent's uid).</summary>
    public static CheckResult Run(string path, uint expectedOwner)
    {
        string address;
        UnixFileMode mode;
        try
        {
            using NodeKey key = IdentityFile.Load(path); // refuses missing, malformed and group/other-readable keys
            address = key.Address.ToString();
            mode = File.GetUnixFileMode(path);
        }
        catch (InfraException e)
        {
            return CheckResult.FromError(Name, e.Message);
        }

        string summary = $"node {address} (key {path}, mode {IdentityFile.FormatMode(mode)}";
        if (!Interop.Libc.TryGetOwner(path, out uint owner, out int errno))
            return CheckResult.Warning(Name, $"{summary}); its owner could not be read (errno {errno})", $"check `ls -ln {path}`: it should belong to uid {expectedOwner}");
        if (owner != expectedOwner)
        {
            // 0600 protects the key only from users other than its owner; an owner other than the agent's user can read or replace it.
            return CheckResult.Failed(Name, $"{summary}) belongs to uid {owner}, not to uid {expectedOwner} that runs the agent",
                string.Create(CultureInfo.InvariantCulture, $"chown {expectedOwner} {path}, or run the agent as uid {owner}"));
        }

        string folder = Path.GetDirectoryName(Path.GetFullPath(path)) ?? "/";
        UnixFileMode folderMode;
        try
        {
            folderMode = File.GetUnixFileMode(folder);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return CheckResult.Warning(Name, $"{summary}); its folder {folder} could not be read: {e.Message}", $"check `ls -ld {folder}`");
        }

        string withFolder = $"{summary}, folder {IdentityFile.FormatMode(folderMode)})";
        if (!Interop.Libc.TryGetOwner(folder, out uint folderOwner, out _) || folderOwner != expectedOwner && folderOwner != 0)
        {
            return CheckResult.Failed(Name, $"{withFolder}: the folder belongs to another user, who could replace the key",
                $"keep the key in a folder of its own: chown {expectedOwner} {folder} && chmod 700 {folder}");
        }

        if ((folderMode & GroupOrOthersWrite) != 0 && (folderMode & UnixFileMode.StickyBit) == 0)
        {
            // Whoever can write the folder can rename another key over this one: the node's identity becomes theirs.
            return CheckResult.Failed(Name, $"{withFolder}: others can write the folder and so replace the key", $"chmod 700 {folder}");
        }

        if ((folderMode & GroupOrOthersAny) != 0)
            return CheckResult.Warning(Name, $"{withFolder}: the folder is open to group or others", $"chmod 700 {folder} (CONTRACT.md §2 asks for 0700)");
        return CheckResult.Ok(Name, withFolder);
    }
}
