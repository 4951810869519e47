namespace InfraMind.Node.Interop;

internal static unsafe partial class Nvml
{
    internal sealed partial class Library
    {
        private delegate* unmanaged<nint, byte*, uint, Return> _deviceGetName;

        /// <summary>nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t device, char *name, unsigned int length).</summary>
        public Return DeviceGetName(nint device, Span<byte> name)
        {
            if (_deviceGetName == null)
                return Return.FunctionNotFound;
            fixed (byte* buffer = name)
                return _deviceGetName(device, buffer, (uint)name.Length);
        }

        private void BindDeviceGetName() => _deviceGetName = (delegate* unmanaged<nint, byte*, uint, Return>)Export("nvmlDeviceGetName");
    }
}
