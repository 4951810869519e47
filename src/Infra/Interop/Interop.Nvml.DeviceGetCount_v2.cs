namespace InfraMind.Node.Interop;

internal static unsafe partial class Nvml
{
    internal sealed partial class Library
    {
        private delegate* unmanaged<uint*, Return> _deviceGetCount;

        /// <summary>nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *deviceCount).</summary>
        public Return DeviceGetCount(out uint count)
        {
            count = 0;
            if (_deviceGetCount == null)
                return Return.FunctionNotFound;
            fixed (uint* result = &count)
                return _deviceGetCount(result);
        }

        private void BindDeviceGetCount() => _deviceGetCount = (delegate* unmanaged<uint*, Return>)Export("nvmlDeviceGetCount_v2");
    }
}
