namespace InfraMind.Node.Interop;

internal static unsafe partial class Nvml
{
    internal sealed partial class Library
    {
        private delegate* unmanaged<uint, nint*, Return> _deviceGetHandleByIndex;

        /// <summary>nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t *device): the handle is opaque.</summary>
        public Return DeviceGetHandleByIndex(uint index, out nint device)
        {
            device = 0;
            if (_deviceGetHandleByIndex == null)
                return Return.FunctionNotFound;
            fixed (nint* result = &device)
                return _deviceGetHandleByIndex(index, result);
        }

        private void BindDeviceGetHandleByIndex() => _deviceGetHandleByIndex = (delegate* unmanaged<uint, nint*, Return>)Export("nvmlDeviceGetHandleByIndex_v2");
    }
}
