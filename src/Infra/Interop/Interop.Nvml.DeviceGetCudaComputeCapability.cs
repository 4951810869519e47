namespace InfraMind.Node.Interop;

internal static unsafe partial class Nvml
{
    internal sealed partial class Library
    {
        private delegate* unmanaged<nint, int*, int*, Return> _deviceGetCudaComputeCapability;

        /// <summary>nvmlReturn_t nvmlDeviceGetCudaComputeCapability(nvmlDevice_t device, int *major, int *minor): added in NVML 9 (driver 384).</summary>
        public Return DeviceGetCudaComputeCapability(nint device, out int major, out int minor)
        {
            major = 0;
            minor = 0;
            if (_deviceGetCudaComputeCapability == null)
                return Return.FunctionNotFound;
            fixed (int* a = &major)
            fixed (int* b = &minor)
                return _deviceGetCudaComputeCapability(device, a, b);
        }

        private void BindDeviceGetCudaComputeCapability() => _deviceGetCudaComputeCapability = (delegate* unmanaged<nint, int*, int*, Return>)Export("nvmlDeviceGetCudaComputeCapability");
    }
}
