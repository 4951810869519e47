using System.Globalization;

namespace InfraMind.Node.Hardware.Nvml;

/// <summary>How far reading the GPUs got.</summary>
public enum GpuInventoryStatus
{
    /// <summary>NVML answered; <see cref="GpuInventory.Gpus"/> is what it lists (possibly none).</summary>
    Ready,

    /// <summary>No libnvidia-ml.so.1 on this host: no NVIDIA driver, so no GPUs. Normal on CPU hosts.</summary>
    LibraryAbsent,

    /// <summary>A library was found but cannot be used (the override path is wrong, or it is not NVML).</summary>
    LibraryUnusable,

    /// <summary>nvmlInit_v2 failed (driver not loaded, no permission, driver/library mismatch).</summary>
    InitFailed,

    /// <summary>NVML started but could not count the devices.</summary>
    QueryFailed,
}

/// <summary>An NVIDIA compute capability, e.g. 9.0 for Hopper.</summary>
public readonly record struct ComputeCapability(int Major, int Minor)
{
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Major}.{Minor}");
}

/// <summary>
/// One GPU as NVML lists it. <see cref="Uuid"/> is what a job's container is given (SandboxSpec.GpuUuid);
/// <see cref="ComputeCapability"/> is null on drivers without nvmlDeviceGetCudaComputeCapability, and
/// <see cref="UtilizationPercent"/> where the board does not sample it.
/// </summary>
public sealed record GpuInfo(int Index, string Name, string Uuid, long MemoryTotal, long MemoryFree, ComputeCapability? ComputeCapability)
{
    public int? UtilizationPercent { get; init; }
}

/// <summary>
/// The GPUs of this host at one moment. Never thrown for: a host without NVML is <see cref="GpuInventoryStatus.LibraryAbsent"/>
/// and a broken one says why in <see cref="Reason"/> ("problem; fix: remedy"). <see cref="Problems"/> lists devices
/// left out and fields not read, one line each, while the rest of the inventory stands.
/// </summary>
public sealed record GpuInventory(
    GpuInventoryStatus Status,
    string? Reason,
    string? DriverVersion,
    string? NvmlVersion,
    IReadOnlyList<GpuInfo> Gpus,
    IReadOnlyList<string> Problems)
{
    /// <summary>NVML answered (it may still list no GPU).</summary>
    public bool Available => Status == GpuInventoryStatus.Ready;

    internal static GpuInventory Unavailable(GpuInventoryStatus status, string reason) =>
        new(status, reason, null, null, [], []);
}
