namespace InfraMind.Node.Interop;

internal static unsafe partial class Nvml
{
    internal sealed partial class Library
    {
        private delegate* unmanaged<nint, Utilization*, Return> _deviceGetUtilizationRates;

        /// <summary>nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t device, nvmlUtilization_t *utilization): NOT_SUPPORTED on some boards.</summary>
        public Return DeviceGetUtilizationRates(nint device, out Utilization utilization)
        {
            utilization = default;
            if (_deviceGetUtilizationRates == null)
                return Return.FunctionNotFound;
            fixed (Utilization* result = &utilization)
                return _deviceGetUtilizationRates(device, result);
        }

        private void BindDeviceGetUtilizationRates() => _deviceGetUtilizationRates = (delegate* unmanaged<nint, Utilization*, Return>)Export("nvmlDeviceGetUtilizationRates");
    }
}
