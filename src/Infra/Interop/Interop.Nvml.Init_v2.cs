namespace InfraMind.Node.Interop;

internal static unsafe partial class Nvml
{
    internal sealed partial class Library
    {
        private delegate* unmanaged<Return> _init;

        /// <summary>nvmlReturn_t nvmlInit_v2(void): reference-counted; each success needs one <see cref="Shutdown"/>.</summary>
        public Return Init()
        {
            return _init == null ? Return.FunctionNotFound : _init();
        }

        private void BindInit() => _init = (delegate* unmanaged<Return>)Export("nvmlInit_v2");
    }
}
