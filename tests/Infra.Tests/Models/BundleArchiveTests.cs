using System.Formats.Tar;
using System.Text;
using InfraMind.Node.Models.Bundles;
using InfraMind.Node.Tests.Support;

namespace InfraMind.Node.Tests.Models;

public class BundleArchiveTests
{
    [Theory]
    [InlineData("../escape.txt")]
    [InlineData("/etc/owned")]
    [InlineData("a/../../escape.txt")]
    public void Paths_that_climb_out_of_the_bundle_are_refused(string name)
    {
        using var temp = new TempFolder();
        string archive = WriteTar(temp, w => w.WriteEntry(File(name, "x")));
        Assert.Throws<BundleFormatException>(() => BundleArchive.Extract(archive, temp["out"], 1 << 20));
        Assert.False(System.IO.File.Exists(Path.Combine(temp.Path, "escape.txt")));
    }

    [Fact]
    public void Links_and_devices_are_refused()
    {
        using var temp = new TempFolder();
        string archive = WriteTar(temp, w => w.WriteEntry(new PaxTarEntry(TarEntryType.SymbolicLink, "model.yaml") { LinkName = "/etc/passwd" }));
        var error = Assert.Throws<BundleFormatException>(() => BundleArchive.Extract(archive, temp["out"], 1 << 20));
        Assert.Contains("SymbolicLink", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_archive_that_unpacks_past_the_limit_is_refused()
    {
        using var temp = new TempFolder();
        string archive = WriteTar(temp, w => w.WriteEntry(File("big.bin", new string('x', 5000))));
        Assert.Throws<BundleFormatException>(() => BundleArchive.Extract(archive, temp["out"], 1000));
    }

    [Fact]
    public void Garbage_and_truncated_archives_are_refused()
    {
        using var temp = new TempFolder();
        System.IO.File.WriteAllBytes(temp["garbage.tar"], Encoding.ASCII.GetBytes(new string('z', 2000)));
        Assert.Throws<BundleFormatException>(() => BundleArchive.Extract(temp["garbage.tar"], temp["out1"], 1 << 20));

        string good = WriteTar(temp, w => w.WriteEntry(File("model.yaml", new string('y', 3000))));
        byte[] bytes = System.IO.File.ReadAllBytes(good);
        System.IO.File.WriteAllBytes(temp["cut.tar"], bytes.AsSpan(0, 1200).ToArray());
        Assert.Throws<BundleFormatException>(() => BundleArchive.Extract(temp["cut.tar"], temp["out2"], 1 << 20));
    }

    [Fact]
    public void A_bundle_without_an_image_archive_or_with_a_non_image_tar_is_refused()
    {
        using var temp = new TempFolder();
        temp.Write("b/model.yaml", TestBundles.Manifest);
        Assert.Contains("no image archive", Assert.Throws<BundleFormatException>(() => BundleLayout.Validate(temp["b"])).Message, StringComparison.Ordinal);

        WriteTar(temp, w => w.WriteEntry(File("not-an-image.txt", "hi")), "b/container.tar");
        Assert.Contains("no manifest.json", Assert.Throws<BundleFormatException>(() => BundleLayout.Validate(temp["b"])).Message, StringComparison.Ordinal);
    }

    private static PaxTarEntry File(string name, string content) =>
        new(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(Encoding.UTF8.GetBytes(content)) };

    private static string WriteTar(TempFolder temp, Action<TarWriter> write, string name = "bundle.tar")
    {
        string path = temp[name];
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        using (FileStream file = System.IO.File.Create(path))
        using (var writer = new TarWriter(file, TarEntryFormat.Pax))
            write(writer);
        return path;
    }
}
