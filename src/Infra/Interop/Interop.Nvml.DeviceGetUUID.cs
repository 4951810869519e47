namespace InfraMind.Node.Interop;

internal static unsafe partial class Nvml
{
    internal sealed partial class Library
    {
        private delegate* unmanaged<nint, byte*, uint, Return> _deviceGetUuid;

        /// <summary>nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t device, char *uuid, unsigned int length).</summary>
        public Return DeviceGetUuid(nint device, Span<byte> uuid)
        {
            if (_deviceGetUuid == null)
                return Return.FunctionNotFound;
            fixed (byte* buffer = uuid)
                return _deviceGetUuid(device, buffer, (uint)uuid.Length);
        }

        private void BindDeviceGetUuid() => _deviceGetUuid = (delegate* unmanaged<nint, byte*, uint, Return>)Export("nvmlDeviceGetUUID");
    }
}
