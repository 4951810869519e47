namespace InfraMind.Node.Interop;

internal static unsafe partial class Nvml
{
    internal sealed partial class Library
    {
        private delegate* unmanaged<Return> _shutdown;

        /// <summary>nvmlReturn_t nvmlShutdown(void).</summary>
        public Return Shutdown()
        {
            return _shutdown == null ? Return.FunctionNotFound : _shutdown();
        }

        private void BindShutdown() => _shutdown = (delegate* unmanaged<Return>)Export("nvmlShutdown");
    }
}
