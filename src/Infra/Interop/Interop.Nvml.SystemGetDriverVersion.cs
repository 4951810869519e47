namespace InfraMind.Node.Interop;

internal static unsafe partial class Nvml
{
    internal sealed partial class Library
    {
        private delegate* unmanaged<byte*, uint, Return> _systemGetDriverVersion;

        /// <summary>nvmlReturn_t nvmlSystemGetDriverVersion(char *version, unsigned int length).</summary>
        public Return SystemGetDriverVersion(Span<byte> version)
        {
            if (_systemGetDriverVersion == null)
                return Return.FunctionNotFound;
            fixed (byte* buffer = version)
                return _systemGetDriverVersion(buffer, (uint)version.Length);
        }

        private void BindSystemGetDriverVersion() => _systemGetDriverVersion = (delegate* unmanaged<byte*, uint, Return>)Export("nvmlSystemGetDriverVersion");
    }
}
