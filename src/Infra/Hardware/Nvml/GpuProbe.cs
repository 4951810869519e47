using System.Collections.Concurrent;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using NvmlApi = InfraMind.Node.Interop.Nvml;

namespace InfraMind.Node.Hardware.Nvml;

/// <summary>
/// Reads the host's NVIDIA GPUs through NVML: load libnvidia-ml.so.1 on first use (never at startup, so a host
/// without it runs), nvmlInit_v2, read, nvmlShutdown. Every nvmlReturn_t is checked; nothing here throws for
/// what the library or driver does.
/// </summary>
public static class GpuProbe
{
    /// <summary>Names a libnvidia-ml to load instead of the driver's (tests, unusual installs). Not a config key.</summary>
    public const string LibraryVariable = "INFRAMIND_NVML_LIBRARY";

    /// <summary>The most GPUs one host holds with room to spare (DGX boxes have 8-16); more is a broken library.</summary>
    public const int MaxDevices = 64;

    private const string DriverFix = "check that `nvidia-smi` works on this host";

    // One binding per loaded file: dlopen of the same path returns the same handle, so bind once.
    private static readonly ConcurrentDictionary<string, NvmlApi.Library> Loaded = new(StringComparer.Ordinal);

    /// <summary>The GPUs, from the library <see cref="LibraryVariable"/> names, else the driver's.</summary>
    public static GpuInventory Read() => Read(Environment.GetEnvironmentVariable(LibraryVariable));

    /// <summary>The GPUs, from the library at <paramref name="libraryPath"/>; null or empty for the driver's.</summary>
    public static GpuInventory Read(string? libraryPath) =>
        string.IsNullOrEmpty(libraryPath) ? ReadFrom(NvmlApi.LibraryName, isOverride: false) : ReadFrom(libraryPath, isOverride: true);

    /// <summary>
    /// <paramref name="library"/> is a bare name searched on the loader path, or (<paramref name="isOverride"/>) a
    /// path someone set on purpose, whose absence is a mistake rather than a CPU-only host.
    /// </summary>
    internal static GpuInventory ReadFrom(string library, bool isOverride)
    {
        if (!TryBind(library, isOverride, out NvmlApi.Library? nvml, out GpuInventory? failure))
            return failure;

        NvmlApi.Return status = nvml.Init();
        if (status != NvmlApi.Return.Success)
        {
            string reason = status == NvmlApi.Return.FunctionNotFound
                ? $"{library} has no nvmlInit_v2, so it is not NVML or predates driver 325; fix: install a current NVIDIA driver or unset {LibraryVariable}"
                : $"nvmlInit_v2 failed: {nvml.ErrorString(status)}; fix: {InitFix(status)}";
            return GpuInventory.Unavailable(GpuInventoryStatus.InitFailed, reason);
        }

        try
        {
            return Query(nvml);
        }
        finally
        {
            // Init is reference-counted inside NVML: every success is matched, or the driver state leaks.
            nvml.Shutdown();
        }
    }

    private static bool TryBind(
        string library,
        bool isOverride,
        [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out NvmlApi.Library? nvml,
        [System.Diagnostics.CodeAnalysis.NotNullWhen(false)] out GpuInventory? failure)
    {
        failure = null;
        if (Loaded.TryGetValue(library, out nvml))
            return true;

        nint handle;
        if (!isOverride)
        {
            if (!NativeLibrary.TryLoad(library, out handle))
            {
                failure = GpuInventory.Unavailable(GpuInventoryStatus.LibraryAbsent, $"NVML not found ({library} is not on the loader path): no NVIDIA driver on this host");
                return false;
            }
        }
        else
        {
            if (!File.Exists(library))
            {
                failure = GpuInventory.Unavailable(GpuInventoryStatus.LibraryUnusable, $"{LibraryVariable} names {library}, which does not exist; fix: point it at libnvidia-ml.so.1 or unset it");
                return false;
            }

            try
            {
                handle = NativeLibrary.Load(library);
            }
            catch (Exception e) when (e is DllNotFoundException or BadImageFormatException)
            {
                // The message carries dlerror(): wrong architecture, missing dependency, not a shared object.
                failure = GpuInventory.Unavailable(GpuInventoryStatus.LibraryUnusable, $"{LibraryVariable} names {library}, which cannot be loaded ({e.Message}); fix: point it at libnvidia-ml.so.1 or unset it");
                return false;
            }
        }

        nvml = Loaded.GetOrAdd(library, _ => new NvmlApi.Library(handle));
        return true;
    }

    private static GpuInventory Query(NvmlApi.Library nvml)
    {
        var problems = new List<string>();
        Span<byte> text = stackalloc byte[NvmlApi.DeviceNameBufferSize];
        text.Clear();

        string? driver = ReadText(nvml, "nvmlSystemGetDriverVersion", nvml.SystemGetDriverVersion(text[..NvmlApi.SystemDriverVersionBufferSize]), text[..NvmlApi.SystemDriverVersionBufferSize], problems);
        text.Clear();
        string? version = ReadText(nvml, "nvmlSystemGetNVMLVersion", nvml.SystemGetNvmlVersion(text[..NvmlApi.SystemNvmlVersionBufferSize]), text[..NvmlApi.SystemNvmlVersionBufferSize], problems);

        NvmlApi.Return status = nvml.DeviceGetCount(out uint count);
        if (status != NvmlApi.Return.Success)
            return new GpuInventory(GpuInventoryStatus.QueryFailed, $"nvmlDeviceGetCount_v2 failed: {nvml.ErrorString(status)}; fix: {DriverFix}", driver, version, [], problems);
        if (count > MaxDevices)
        {
            return new GpuInventory(
                GpuInventoryStatus.QueryFailed,
                $"nvmlDeviceGetCount_v2 reports {count.ToString(CultureInfo.InvariantCulture)} GPUs, over the {MaxDevices} any host holds, so the library is broken; fix: reinstall the NVIDIA driver",
                driver,
                version,
                [],
                problems);
        }

        var gpus = new List<GpuInfo>((int)count);
        for (uint index = 0; index < count; index++)
        {
            if (ReadDevice(nvml, index, text, problems) is { } gpu)
                gpus.Add(gpu);
        }

        return new GpuInventory(GpuInventoryStatus.Ready, null, driver, version, gpus, problems);
    }

    /// <summary>One device, or null with the reason in <paramref name="problems"/>: a GPU without name, UUID or memory cannot be scheduled.</summary>
    private static GpuInfo? ReadDevice(NvmlApi.Library nvml, uint index, Span<byte> text, List<string> problems)
    {
        string where = string.Create(CultureInfo.InvariantCulture, $"GPU {index}");
        NvmlApi.Return status = nvml.DeviceGetHandleByIndex(index, out nint device);
        if (status != NvmlApi.Return.Success)
            return LeftOut(problems, where, "nvmlDeviceGetHandleByIndex_v2", nvml.ErrorString(status));

        // Cleared before each call: a library that answers success without writing must not hand back the last value.
        Span<byte> nameBuffer = text[..NvmlApi.DeviceNameBufferSize];
        nameBuffer.Clear();
        status = nvml.DeviceGetName(device, nameBuffer);
        if (status != NvmlApi.Return.Success)
            return LeftOut(problems, where, "nvmlDeviceGetName", nvml.ErrorString(status));
        string name = NvmlText.Decode(nameBuffer, out bool terminated);
        if (!terminated)
            problems.Add($"{where}: nvmlDeviceGetName filled its {NvmlApi.DeviceNameBufferSize}-byte buffer without a terminator; the name is cut there");
        if (name.Length == 0)
            return LeftOut(problems, where, "nvmlDeviceGetName", "an empty name");

        Span<byte> uuidBuffer = text[..NvmlApi.DeviceUuidBufferSize];
        uuidBuffer.Clear();
        status = nvml.DeviceGetUuid(device, uuidBuffer);
        if (status != NvmlApi.Return.Success)
            return LeftOut(problems, where, "nvmlDeviceGetUUID", nvml.ErrorString(status));
        string uuid = NvmlText.Decode(uuidBuffer, out terminated);
        if (!terminated || !NvmlText.IsUuid(uuid))
            return LeftOut(problems, where, "nvmlDeviceGetUUID", $"\"{uuid}\", not a GPU-/MIG- UUID");

        status = nvml.DeviceGetMemoryInfo(device, out NvmlApi.Memory memory);
        if (status != NvmlApi.Return.Success)
            return LeftOut(problems, where, "nvmlDeviceGetMemoryInfo", nvml.ErrorString(status));
        if (memory.Total == 0 || memory.Total > long.MaxValue || memory.Free > memory.Total)
        {
            return LeftOut(problems, where, "nvmlDeviceGetMemoryInfo", string.Create(CultureInfo.InvariantCulture, $"total {memory.Total} and free {memory.Free} bytes, which cannot be"));
        }

        ComputeCapability? capability = null;
        status = nvml.DeviceGetCudaComputeCapability(device, out int major, out int minor);
        if (status == NvmlApi.Return.Success && major is > 0 and < 100 && minor is >= 0 and < 100)
            capability = new ComputeCapability(major, minor);
        else if (status != NvmlApi.Return.NotSupported)
            problems.Add($"{where}: no compute capability (nvmlDeviceGetCudaComputeCapability: {(status == NvmlApi.Return.Success ? string.Create(CultureInfo.InvariantCulture, $"{major}.{minor}") : nvml.ErrorString(status))})");

        // Optional: many boards (and MIG slices) do not sample utilization; its absence is not a problem.
        int? utilization = nvml.DeviceGetUtilizationRates(device, out NvmlApi.Utilization rates) == NvmlApi.Return.Success && rates.Gpu <= 100
            ? (int)rates.Gpu
            : null;

        return new GpuInfo((int)index, name, uuid, (long)memory.Total, (long)memory.Free, capability) { UtilizationPercent = utilization };
    }

    private static GpuInfo? LeftOut(List<string> problems, string where, string call, string what)
    {
        problems.Add($"{where} left out: {call} gave {what}");
        return null;
    }

    private static string? ReadText(NvmlApi.Library nvml, string call, NvmlApi.Return status, ReadOnlySpan<byte> buffer, List<string> problems)
    {
        if (status != NvmlApi.Return.Success)
        {
            problems.Add($"{call} failed: {nvml.ErrorString(status)}");
            return null;
        }

        string value = NvmlText.Decode(buffer, out bool terminated);
        if (!terminated)
            problems.Add($"{call} filled its {buffer.Length}-byte buffer without a terminator; the value is cut there");
        return value.Length == 0 ? null : value;
    }

    private static string InitFix(NvmlApi.Return status) => status switch
    {
        NvmlApi.Return.DriverNotLoaded => "load the NVIDIA kernel driver (`modprobe nvidia`), or in a container run it with the NVIDIA container runtime",
        NvmlApi.Return.NoPermission => "let the node's user open /dev/nvidia* (the video group on most distributions)",
        NvmlApi.Return.LibRmVersionMismatch => "the kernel module and libnvidia-ml differ in version: reboot, or reload the module after a driver upgrade",
        _ => DriverFix,
    };
}

/// <summary>The fixed char buffers NVML fills, decoded without trusting them.</summary>
internal static class NvmlText
{
    /// <summary>
    /// The text before the first NUL, or the whole buffer when there is none (<paramref name="terminated"/> false):
    /// never a byte past the buffer. Invalid UTF-8 becomes U+FFFD and control characters '?', because names go
    /// into logs, the doctor's one-line output and the mesh hello.
    /// </summary>
    public static string Decode(ReadOnlySpan<byte> buffer, out bool terminated)
    {
        int end = buffer.IndexOf((byte)0);
        terminated = end >= 0;
        string text = Encoding.UTF8.GetString(terminated ? buffer[..end] : buffer);
        return string.Create(text.Length, text, static (span, source) =>
        {
            for (int i = 0; i < source.Length; i++)
                span[i] = char.IsControl(source[i]) ? '?' : source[i];
        }).Trim();
    }

    /// <summary>
    /// NVML's UUID forms, "GPU-" or "MIG-" then hex and dashes (MIG's older form "MIG-GPU-.../gi/ci" too). It is passed
    /// to the engine as a device ID, so anything else (spaces, commas, quotes) is refused.
    /// </summary>
    public static bool IsUuid(string uuid)
    {
        if (!(uuid.StartsWith("GPU-", StringComparison.Ordinal) || uuid.StartsWith("MIG-", StringComparison.Ordinal)) || uuid.Length < 8)
            return false;
        foreach (char c in uuid.AsSpan(4))
        {
            if (!(char.IsAsciiHexDigit(c) || c is '-' or '/' || c is 'G' or 'P' or 'U'))
                return false;
        }

        return true;
    }
}
