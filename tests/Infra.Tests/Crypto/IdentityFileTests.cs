using InfraMind.Node.Crypto;
using InfraMind.Node.Errors;
using InfraMind.Node.Tests.Support;

namespace InfraMind.Node.Tests.Crypto;

public class IdentityFileTests
{
    [Fact]
    public void A_new_key_is_0600_in_a_0700_folder_and_loads_back_to_the_same_address()
    {
        using var temp = new TempFolder();
        string path = temp["node/identity.key"];
        using NodeKey created = IdentityFile.Create(path, force: false);

        Assert.Equal(IdentityFile.FileMode, File.GetUnixFileMode(path));
        Assert.Equal(IdentityFile.FolderMode, File.GetUnixFileMode(temp["node"]));
        string text = File.ReadAllText(path);
        Assert.Matches("^0x[0-9a-f]{64}\n$", text);

        using NodeKey loaded = IdentityFile.Load(path);
        Assert.Equal(created.Address, loaded.Address);
        Assert.Empty(Directory.GetFiles(temp["node"], "*.tmp", SearchOption.AllDirectories));
    }

    [Fact]
    public void An_existing_key_is_kept_without_force_and_replaced_with_it()
    {
        using var temp = new TempFolder();
        string path = temp["identity.key"];
        using NodeKey first = IdentityFile.Create(path, force: false);
        string original = File.ReadAllText(path);

        var refused = Assert.Throws<InfraException>(() => IdentityFile.Create(path, force: false));
        Assert.Equal(2, refused.ExitCode);
        Assert.Contains("--force", refused.Message, StringComparison.Ordinal);
        Assert.Equal(original, File.ReadAllText(path));

        using NodeKey second = IdentityFile.Create(path, force: true);
        Assert.NotEqual(original, File.ReadAllText(path));
        Assert.NotEqual(first.Address, second.Address);
    }

    [Theory]
    [InlineData(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead, "0644")]
    [InlineData(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead, "0640")]
    [InlineData(UnixFileMode.UserRead | UnixFileMode.OtherRead, "0404")]
    [InlineData(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupWrite, "0620")]
    public void A_key_open_to_group_or_others_is_refused_with_the_chmod_fix(UnixFileMode mode, string shown)
    {
        using var temp = new TempFolder();
        string path = temp["identity.key"];
        IdentityFile.Create(path, force: false).Dispose();
        File.SetUnixFileMode(path, mode);

        var error = Assert.Throws<InfraException>(() => IdentityFile.Load(path));
        Assert.Equal(FailureKind.Identity, error.Kind);
        Assert.Contains($"mode {shown}", error.Message, StringComparison.Ordinal);
        Assert.Contains($"chmod 600 {path}", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("0000000000000000000000000000000000000000000000000000000000000001", "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf")]
    [InlineData("0x0000000000000000000000000000000000000000000000000000000000000001\n", "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf")]
    [InlineData("  0X0000000000000000000000000000000000000000000000000000000000000002\r\n", "0x2B5AD5c4795c026514f8317c7a215E218DcCD6cF")]
    public void Geth_style_key_files_are_read(string content, string address)
    {
        using var temp = new TempFolder();
        string path = WriteKey(temp, content);
        using NodeKey key = IdentityFile.Load(path);
        Assert.Equal(address, key.Address.ToString());
    }

    [Theory]
    [InlineData("", "64 hex")]
    [InlineData("0x00000000000000000000000000000000000000000000000000000000000001", "64 hex")]
    [InlineData("zz00000000000000000000000000000000000000000000000000000000000001", "64 hex")]
    [InlineData("0x0000000000000000000000000000000000000000000000000000000000000000", "not a valid secp256k1")]
    [InlineData("0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141", "not a valid secp256k1")]
    public void Malformed_keys_are_refused_with_a_clear_error(string content, string expected)
    {
        using var temp = new TempFolder();
        string path = WriteKey(temp, content);
        var error = Assert.Throws<InfraException>(() => IdentityFile.Load(path));
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
        Assert.Contains("fix:", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_oversized_file_is_not_taken_for_a_key()
    {
        using var temp = new TempFolder();
        string path = WriteKey(temp, new string('a', 100_000));
        var error = Assert.Throws<InfraException>(() => IdentityFile.Load(path));
        Assert.Contains("not a key file", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_missing_key_names_the_init_command()
    {
        using var temp = new TempFolder();
        var error = Assert.Throws<InfraException>(() => IdentityFile.Load(temp["missing.key"]));
        Assert.Contains("infra init --keygen", error.Message, StringComparison.Ordinal);
    }

    private static string WriteKey(TempFolder temp, string content)
    {
        string path = temp.Write("identity.key", content);
        File.SetUnixFileMode(path, IdentityFile.FileMode);
        return path;
    }
}
