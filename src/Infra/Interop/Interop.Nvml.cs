using System.Runtime.InteropServices;

namespace InfraMind.Node.Interop;

/// <summary>
/// NVIDIA Management Library (nvml.h), bound by function pointer from one loaded copy of the library. Not
/// [LibraryImport]: the runtime binds an import to the first library it resolves for good, and tests load a
/// differently built fake per case; function pointers per handle are AOT-clean and let a missing export
/// (an older driver) fail one call instead of the whole type. One function per Interop.Nvml.NAME.cs file.
/// </summary>
internal static unsafe partial class Nvml
{
    /// <summary>The soname the NVIDIA driver installs; dlopen finds it on the loader's path.</summary>
    public const string LibraryName = "libnvidia-ml.so.1";

    /// <summary>NVML_DEVICE_NAME_V2_BUFFER_SIZE.</summary>
    public const int DeviceNameBufferSize = 96;

    /// <summary>NVML_DEVICE_UUID_V2_BUFFER_SIZE.</summary>
    public const int DeviceUuidBufferSize = 96;

    /// <summary>NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE.</summary>
    public const int SystemDriverVersionBufferSize = 80;

    /// <summary>NVML_SYSTEM_NVML_VERSION_BUFFER_SIZE.</summary>
    public const int SystemNvmlVersionBufferSize = 80;

    /// <summary>nvmlReturn_t. <see cref="FunctionNotFound"/> is also what a binding answers for an export the library lacks.</summary>
    public enum Return
    {
        Success = 0,
        Uninitialized = 1,
        InvalidArgument = 2,
        NotSupported = 3,
        NoPermission = 4,
        AlreadyInitialized = 5,
        NotFound = 6,
        InsufficientSize = 7,
        InsufficientPower = 8,
        DriverNotLoaded = 9,
        Timeout = 10,
        IrqIssue = 11,
        LibraryNotFound = 12,
        FunctionNotFound = 13,
        CorruptedInforom = 14,
        GpuIsLost = 15,
        ResetRequired = 16,
        OperatingSystem = 17,
        LibRmVersionMismatch = 18,
        InUse = 19,
        Memory = 20,
        NoData = 21,
        VgpuEccNotSupported = 22,
        InsufficientResources = 23,
        FreqNotSupported = 24,
        ArgumentVersionMismatch = 25,
        Deprecated = 26,
        NotReady = 27,
        GpuNotFound = 28,
        InvalidState = 29,
        Unknown = 999,
    }

    /// <summary>nvmlMemory_t: bytes, three unsigned long long.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct Memory
    {
        public ulong Total;
        public ulong Free;
        public ulong Used;
    }

    /// <summary>nvmlUtilization_t: percent of the last sample period.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct Utilization
    {
        public uint Gpu;
        public uint Memory;
    }

    /// <summary>
    /// The exports of one loaded libnvidia-ml. A null pointer (the export is missing) makes its call answer
    /// <see cref="Return.FunctionNotFound"/>, so callers check one code path for everything.
    /// </summary>
    internal sealed partial class Library
    {
        public Library(nint handle)
        {
            Handle = handle;
            BindInit();
            BindShutdown();
            BindErrorString();
            BindSystemGetDriverVersion();
            BindSystemGetNvmlVersion();
            BindDeviceGetCount();
            BindDeviceGetHandleByIndex();
            BindDeviceGetName();
            BindDeviceGetUuid();
            BindDeviceGetMemoryInfo();
            BindDeviceGetCudaComputeCapability();
            BindDeviceGetUtilizationRates();
        }

        public nint Handle { get; }

        private nint Export(string name) => NativeLibrary.TryGetExport(Handle, name, out nint address) ? address : 0;
    }
}
