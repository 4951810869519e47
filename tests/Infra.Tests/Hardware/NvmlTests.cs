using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text;
using InfraMind.Node.Hardware.Nvml;
using InfraMind.Node.Tests.Support;
using NvmlApi = InfraMind.Node.Interop.Nvml;

namespace InfraMind.Node.Tests.Hardware;

/// <summary>
/// The NVML reader against a fake libnvidia-ml built per case (0, 1, 2 GPUs, init failures, failing and missing
/// calls, broken buffers, hostile values), the absent library, and the struct layouts against a C probe.
/// </summary>
public sealed class NvmlTests : IDisposable
{
    private readonly TempFolder _dir = new();

    public void Dispose() => _dir.Dispose();

    private GpuInventory ReadFake(params string[] defines)
    {
        string library = FakeNvml.Build(_dir, defines);
        GpuInventory inventory = GpuProbe.Read(library);
        Assert.Equal(0, FakeNvml.OpenInits(library)); // every successful init was shut down
        return inventory;
    }

    [Fact]
    public void No_gpus_is_ready_with_an_empty_list()
    {
        GpuInventory inventory = ReadFake(FakeNvml.Set("GPUS", "0"));
        Assert.Equal(GpuInventoryStatus.Ready, inventory.Status);
        Assert.True(inventory.Available);
        Assert.Null(inventory.Reason);
        Assert.Equal("550.54.15", inventory.DriverVersion);
        Assert.Empty(inventory.Gpus);
        Assert.Empty(inventory.Problems);
    }

    [Fact]
    public void One_gpu_reads_every_field()
    {
        GpuInventory inventory = ReadFake();
        Assert.Equal(GpuInventoryStatus.Ready, inventory.Status);
        Assert.Equal("550.54.15", inventory.DriverVersion);
        Assert.Equal("12.550.54.15", inventory.NvmlVersion);
        GpuInfo gpu = Assert.Single(inventory.Gpus);
        Assert.Equal(0, gpu.Index);
        Assert.Equal("Fake GPU 0", gpu.Name);
        Assert.Equal("GPU-00000000-fa4e-4e0d-9a1b-0123456789ab", gpu.Uuid);
        Assert.Equal(80L << 30, gpu.MemoryTotal);
        Assert.Equal(79L << 30, gpu.MemoryFree);
        Assert.Equal(new ComputeCapability(9, 0), gpu.ComputeCapability);
        Assert.Equal("9.0", gpu.ComputeCapability.ToString());
        Assert.Equal(37, gpu.UtilizationPercent);
        Assert.Empty(inventory.Problems);
    }

    [Fact]
    public void Two_gpus_keep_their_order_and_settings()
    {
        GpuInventory inventory = ReadFake(
            FakeNvml.Set("GPUS", "2"),
            FakeNvml.Set("NAME", "NVIDIA A40"),
            FakeNvml.Set("CC", "8.6"),
            FakeNvml.Set("DRIVER", "535.183.01"),
            FakeNvml.Set("MEMORY_TOTAL", "48318382080"),
            FakeNvml.Set("MEMORY_FREE", "1000"));
        Assert.Equal("535.183.01", inventory.DriverVersion);
        Assert.Collection(
            inventory.Gpus,
            g => Assert.Equal((0, "NVIDIA A40", "GPU-00000000-fa4e-4e0d-9a1b-0123456789ab"), (g.Index, g.Name, g.Uuid)),
            g => Assert.Equal((1, "NVIDIA A40", "GPU-00000001-fa4e-4e0d-9a1b-0123456789ab"), (g.Index, g.Name, g.Uuid)));
        Assert.All(inventory.Gpus, g => Assert.Equal((48318382080L, 1000L, "8.6"), (g.MemoryTotal, g.MemoryFree, g.ComputeCapability.ToString())));
    }

    [Fact]
    public void Init_failure_gives_nvml_reason_and_a_fix()
    {
        GpuInventory inventory = ReadFake(FakeNvml.Set("FAIL_INIT", "9"));
        Assert.Equal(GpuInventoryStatus.InitFailed, inventory.Status);
        Assert.False(inventory.Available);
        Assert.Empty(inventory.Gpus);
        Assert.Contains("nvmlInit_v2 failed: Driver Not Loaded (NVML error 9)", inventory.Reason, StringComparison.Ordinal);
        Assert.Contains("fix: load the NVIDIA kernel driver", inventory.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Init_failure_without_an_error_text_still_names_the_code()
    {
        GpuInventory inventory = ReadFake(FakeNvml.Set("FAIL_INIT", "18"), FakeNvml.Set("NULL_ERRSTR", "1"));
        Assert.Equal(GpuInventoryStatus.InitFailed, inventory.Status);
        Assert.Contains("nvmlInit_v2 failed: NVML error 18", inventory.Reason, StringComparison.Ordinal);
        Assert.Contains("reboot", inventory.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Unterminated_name_is_cut_at_the_buffer_and_reported()
    {
        GpuInventory inventory = ReadFake(FakeNvml.Set("UNTERMINATED", "1"));
        GpuInfo gpu = Assert.Single(inventory.Gpus);
        Assert.Equal(new string('X', NvmlApi.DeviceNameBufferSize), gpu.Name);
        Assert.Contains(inventory.Problems, p => p.Contains("GPU 0: nvmlDeviceGetName filled its 96-byte buffer without a terminator", StringComparison.Ordinal));
    }

    [Fact]
    public void Name_longer_than_the_buffer_leaves_the_gpu_out()
    {
        GpuInventory inventory = ReadFake(FakeNvml.Set("NAME", new string('N', 120)));
        Assert.Equal(GpuInventoryStatus.Ready, inventory.Status);
        Assert.Empty(inventory.Gpus);
        Assert.Equal("GPU 0 left out: nvmlDeviceGetName gave Insufficient Size (NVML error 7)", Assert.Single(inventory.Problems));
    }

    [Fact]
    public void A_failing_call_on_one_gpu_leaves_that_gpu_out_and_keeps_the_other()
    {
        GpuInventory inventory = ReadFake(
            FakeNvml.Set("GPUS", "2"),
            FakeNvml.Set("FAIL_CALL", "nvmlDeviceGetMemoryInfo"),
            FakeNvml.Set("FAIL_INDEX", "1"),
            FakeNvml.Set("FAIL_CODE", "15"));
        Assert.Equal(GpuInventoryStatus.Ready, inventory.Status);
        Assert.Equal(0, Assert.Single(inventory.Gpus).Index);
        Assert.Equal("GPU 1 left out: nvmlDeviceGetMemoryInfo gave GPU is lost (NVML error 15)", Assert.Single(inventory.Problems));
    }

    [Theory]
    [InlineData("nvmlDeviceGetHandleByIndex_v2")]
    [InlineData("nvmlDeviceGetName")]
    [InlineData("nvmlDeviceGetUUID")]
    public void Each_required_device_call_is_checked(string call)
    {
        GpuInventory inventory = ReadFake(FakeNvml.Set("FAIL_CALL", call), FakeNvml.Set("FAIL_CODE", "4"));
        Assert.Empty(inventory.Gpus);
        Assert.Equal($"GPU 0 left out: {call} gave Insufficient Permissions (NVML error 4)", Assert.Single(inventory.Problems));
    }

    [Fact]
    public void Failing_count_is_a_query_failure()
    {
        GpuInventory inventory = ReadFake(FakeNvml.Set("FAIL_CALL", "nvmlDeviceGetCount_v2"));
        Assert.Equal(GpuInventoryStatus.QueryFailed, inventory.Status);
        Assert.Equal("550.54.15", inventory.DriverVersion);
        Assert.StartsWith("nvmlDeviceGetCount_v2 failed: Unknown Error (NVML error 999); fix: ", inventory.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Failing_driver_version_is_a_problem_not_a_failure()
    {
        GpuInventory inventory = ReadFake(FakeNvml.Set("FAIL_CALL", "nvmlSystemGetDriverVersion"), FakeNvml.Set("FAIL_CODE", "3"));
        Assert.Equal(GpuInventoryStatus.Ready, inventory.Status);
        Assert.Null(inventory.DriverVersion);
        Assert.Single(inventory.Gpus);
        Assert.Equal("nvmlSystemGetDriverVersion failed: Not Supported (NVML error 3)", Assert.Single(inventory.Problems));
    }

    [Fact]
    public void Missing_compute_capability_export_keeps_the_gpu_without_it()
    {
        GpuInventory inventory = ReadFake("-DFAKE_NVML_NO_COMPUTE_CAPABILITY");
        GpuInfo gpu = Assert.Single(inventory.Gpus);
        Assert.Null(gpu.ComputeCapability);
        Assert.Equal("GPU 0: no compute capability (nvmlDeviceGetCudaComputeCapability: Unknown Error (NVML error 13))", Assert.Single(inventory.Problems));
    }

    [Fact]
    public void Library_without_init_is_not_nvml()
    {
        GpuInventory inventory = GpuProbe.Read(FakeNvml.Build(_dir, "-DFAKE_NVML_NO_INIT"));
        Assert.Equal(GpuInventoryStatus.InitFailed, inventory.Status);
        Assert.Contains("has no nvmlInit_v2", inventory.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Absent_library_means_no_gpus()
    {
        GpuInventory inventory = GpuProbe.ReadFrom("libnvidia-ml-not-installed-here.so.1", isOverride: false);
        Assert.Equal(GpuInventoryStatus.LibraryAbsent, inventory.Status);
        Assert.False(inventory.Available);
        Assert.Empty(inventory.Gpus);
        Assert.Contains("NVML not found", inventory.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Override_path_that_is_missing_or_not_a_library_says_so()
    {
        GpuInventory missing = GpuProbe.Read(_dir["nowhere/libnvidia-ml.so.1"]);
        Assert.Equal(GpuInventoryStatus.LibraryUnusable, missing.Status);
        Assert.Contains("INFRAMIND_NVML_LIBRARY names", missing.Reason, StringComparison.Ordinal);
        Assert.Contains("does not exist", missing.Reason, StringComparison.Ordinal);

        GpuInventory garbage = GpuProbe.Read(_dir.Write("junk/libnvidia-ml.so.1", "this is not an ELF file\n"));
        Assert.Equal(GpuInventoryStatus.LibraryUnusable, garbage.Status);
        Assert.Contains("cannot be loaded", garbage.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void This_host_never_crashes_the_probe()
    {
        // No GPU here (ENVIRONMENT.md); on a GPU host the real driver must answer.
        GpuInventory inventory = GpuProbe.Read(null);
        if (File.Exists("/dev/nvidiactl"))
            Assert.Equal(GpuInventoryStatus.Ready, inventory.Status);
        else
            Assert.NotEqual(GpuInventoryStatus.Ready, inventory.Status);
    }

    [Theory]
    [InlineData("4294967295")]
    [InlineData("65")]
    public void Absurd_device_count_is_refused(string count)
    {
        GpuInventory inventory = ReadFake(FakeNvml.Set("GPUS", count));
        Assert.Equal(GpuInventoryStatus.QueryFailed, inventory.Status);
        Assert.Contains("over the 64", inventory.Reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("GPU-1; rm -rf /")]
    [InlineData("GPU-12,GPU-13")]
    [InlineData("nvidia0")]
    [InlineData("GPU-")]
    public void Hostile_uuid_leaves_the_gpu_out(string uuid)
    {
        GpuInventory inventory = ReadFake(FakeNvml.Set("UUID", uuid));
        Assert.Empty(inventory.Gpus);
        Assert.StartsWith("GPU 0 left out: nvmlDeviceGetUUID gave", Assert.Single(inventory.Problems), StringComparison.Ordinal);
    }

    [Fact]
    public void Mig_uuid_is_accepted()
    {
        Assert.Equal("MIG-GPU-8a2b1c3d-0000-1111-2222-333344445555/1/0", Assert.Single(ReadFake(FakeNvml.Set("UUID", "MIG-GPU-8a2b1c3d-0000-1111-2222-333344445555/1/0")).Gpus).Uuid);
    }

    [Theory]
    [InlineData("0", "0")]
    [InlineData("1000", "2000")]
    [InlineData("18446744073709551615", "1")]
    public void Impossible_memory_leaves_the_gpu_out(string total, string free)
    {
        GpuInventory inventory = ReadFake(FakeNvml.Set("MEMORY_TOTAL", total), FakeNvml.Set("MEMORY_FREE", free));
        Assert.Empty(inventory.Gpus);
        Assert.StartsWith("GPU 0 left out: nvmlDeviceGetMemoryInfo gave total", Assert.Single(inventory.Problems), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("0.0")]
    [InlineData("-1.5")]
    [InlineData("100.0")]
    public void Implausible_compute_capability_is_dropped(string cc)
    {
        GpuInfo gpu = Assert.Single(ReadFake(FakeNvml.Set("CC", cc)).Gpus);
        Assert.Null(gpu.ComputeCapability);
    }

    [Fact]
    public void Text_decoding_never_reads_past_the_buffer_and_cleans_what_it_returns()
    {
        Assert.Equal("H100", NvmlText.Decode("H100\0garbage"u8, out bool terminated));
        Assert.True(terminated);
        Assert.Equal("ABCD", NvmlText.Decode("ABCD"u8, out terminated));
        Assert.False(terminated);
        Assert.Equal(string.Empty, NvmlText.Decode([], out terminated));
        Assert.False(terminated);
        Assert.Equal(string.Empty, NvmlText.Decode("\0ABC"u8, out _));
        Assert.Equal("?[31mEvil?GPU", NvmlText.Decode("\u001b[31mEvil\nGPU\0"u8, out _));
        Assert.Equal("A\uFFFDB", NvmlText.Decode([(byte)'A', 0xFF, (byte)'B', 0], out _));

        // Every prefix of a terminated name decodes to a prefix of it, terminated only once the NUL is in.
        byte[] name = Encoding.UTF8.GetBytes("NVIDIA H100 80GB HBM3\0");
        for (int i = 0; i <= name.Length; i++)
        {
            string decoded = NvmlText.Decode(name.AsSpan(0, i), out terminated);
            Assert.StartsWith(decoded, "NVIDIA H100 80GB HBM3", StringComparison.Ordinal);
            Assert.Equal(i == name.Length, terminated);
        }
    }

    [Fact]
    public unsafe void Struct_layouts_match_the_c_header()
    {
        string probe = _dir["layout_probe"];
        FakeNvml.Gcc(["-Wall", "-Werror", "-o", probe, Path.Combine(FakeNvml.FixtureDir, "layout_probe.c")]);
        var start = new ProcessStartInfo(probe) { RedirectStandardOutput = true, UseShellExecute = false };
        using Process run = Process.Start(start)!;
        Dictionary<string, int> c = run.StandardOutput.ReadToEnd()
            .Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split(' '))
            .ToDictionary(parts => parts[0], parts => int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture));
        run.WaitForExit();
        Assert.Equal(0, run.ExitCode);

        NvmlApi.Memory memory = default;
        NvmlApi.Utilization utilization = default;
        int Offset<T>(ref T field, void* baseAddress) => (int)((byte*)Unsafe.AsPointer(ref field) - (byte*)baseAddress);

        var csharp = new Dictionary<string, int>
        {
            ["nvmlReturn_t.size"] = sizeof(NvmlApi.Return),
            ["nvmlDevice_t.size"] = sizeof(nint),
            ["nvmlMemory_t.size"] = sizeof(NvmlApi.Memory),
            ["nvmlMemory_t.total"] = Offset(ref memory.Total, &memory),
            ["nvmlMemory_t.free"] = Offset(ref memory.Free, &memory),
            ["nvmlMemory_t.used"] = Offset(ref memory.Used, &memory),
            ["nvmlUtilization_t.size"] = sizeof(NvmlApi.Utilization),
            ["nvmlUtilization_t.gpu"] = Offset(ref utilization.Gpu, &utilization),
            ["nvmlUtilization_t.memory"] = Offset(ref utilization.Memory, &utilization),
        };
        Assert.Equal(c.OrderBy(p => p.Key), csharp.OrderBy(p => p.Key));
    }
}
