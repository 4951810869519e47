namespace InfraMind.Node.Interop;

internal static unsafe partial class Nvml
{
    internal sealed partial class Library
    {
        private delegate* unmanaged<nint, Memory*, Return> _deviceGetMemoryInfo;

        /// <summary>nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t device, nvmlMemory_t *memory).</summary>
        public Return DeviceGetMemoryInfo(nint device, out Memory memory)
        {
            memory = default;
            if (_deviceGetMemoryInfo == null)
                return Return.FunctionNotFound;
            fixed (Memory* result = &memory)
                return _deviceGetMemoryInfo(device, result);
        }

        private void BindDeviceGetMemoryInfo() => _deviceGetMemoryInfo = (delegate* unmanaged<nint, Memory*, Return>)Export("nvmlDeviceGetMemoryInfo");
    }
}
