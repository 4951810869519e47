using System.Text;
using InfraMind.Node.Errors;
using InfraMind.Node.Hardware;
using InfraMind.Node.Tests.Support;

namespace InfraMind.Node.Tests.Hardware;

/// <summary>The open/read/close reader of kernel files against real files: present, absent, a folder, too big, live.</summary>
public sealed class CgroupFileReaderTests : IDisposable
{
    private readonly TempFolder _dir = new();
    private readonly CgroupFileReader _reader = new();

    public void Dispose()
    {
        _reader.Dispose();
        _dir.Dispose();
    }

    [Fact]
    public void Reads_a_whole_file_and_reports_an_absent_one_as_false()
    {
        string path = _dir.Write("cpu.stat", "usage_usec 1234\nuser_usec 1000\n");
        Assert.True(_reader.TryRead(path, out ReadOnlySpan<byte> content));
        Assert.Equal("usage_usec 1234\nuser_usec 1000\n"u8, content);
        Assert.False(_reader.TryRead(_dir["missing"], out _));
        Assert.False(_reader.TryRead(Path.Combine(path, "under-a-file"), out _)); // ENOTDIR is absent too
        Assert.True(_reader.TryRead(_dir.Write("empty", ""), out content));
        Assert.True(content.IsEmpty);
    }

    [Fact]
    public void A_file_at_the_cap_is_read_and_one_over_it_is_refused()
    {
        Assert.True(_reader.TryRead(_dir.Write("at-cap", new string('1', CgroupText.MaxFileBytes)), out ReadOnlySpan<byte> content));
        Assert.Equal(CgroupText.MaxFileBytes, content.Length);
        string over = _dir.Write("over", new string('1', CgroupText.MaxFileBytes + 1));
        InfraException e = Assert.Throws<InfraException>(() => _reader.TryRead(over, out _));
        Assert.Contains("not a kernel cgroup file", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_folder_is_an_error_that_names_it()
    {
        string folder = Directory.CreateDirectory(_dir["a-folder"]).FullName;
        InfraException e = Assert.Throws<InfraException>(() => _reader.TryRead(folder, out _));
        Assert.Contains(folder, e.Message, StringComparison.Ordinal);
        Assert.Contains("directory", e.Message, StringComparison.OrdinalIgnoreCase); // strerror(EISDIR)
    }

    [Fact]
    public void Reads_live_kernel_files_whose_reported_size_is_not_their_length()
    {
        Assert.True(_reader.TryRead("/proc/self/stat", out ReadOnlySpan<byte> stat));
        Assert.StartsWith(Environment.ProcessId + " (", Encoding.ASCII.GetString(stat), StringComparison.Ordinal);
        Assert.True(_reader.TryRead("/proc/self/status", out ReadOnlySpan<byte> status));
        Assert.Contains("VmRSS:", Encoding.ASCII.GetString(status), StringComparison.Ordinal);
    }
}
