namespace InfraMind.Node.Interop;

internal static unsafe partial class Nvml
{
    internal sealed partial class Library
    {
        private delegate* unmanaged<byte*, uint, Return> _systemGetNvmlVersion;

        /// <summary>nvmlReturn_t nvmlSystemGetNVMLVersion(char *version, unsigned int length).</summary>
        public Return SystemGetNvmlVersion(Span<byte> version)
        {
            if (_systemGetNvmlVersion == null)
                return Return.FunctionNotFound;
            fixed (byte* buffer = version)
                return _systemGetNvmlVersion(buffer, (uint)version.Length);
        }

        private void BindSystemGetNvmlVersion() => _systemGetNvmlVersion = (delegate* unmanaged<byte*, uint, Return>)Export("nvmlSystemGetNVMLVersion");
    }
}
