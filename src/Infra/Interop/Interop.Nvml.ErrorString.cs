using System.Globalization;
using System.Text;

namespace InfraMind.Node.Interop;

internal static unsafe partial class Nvml
{
    internal sealed partial class Library
    {
        /// <summary>NVML's own texts are short; a longer scan means the pointer is not one of them.</summary>
        private const int MaxErrorStringBytes = 256;

        private delegate* unmanaged<Return, byte*> _errorString;

        /// <summary>
        /// const char *nvmlErrorString(nvmlReturn_t result), with the numeric code appended ("Driver Not Loaded
        /// (NVML error 9)") so logs stay searchable; the code alone when the library has no text for it.
        /// </summary>
        public string ErrorString(Return result)
        {
            string code = string.Create(CultureInfo.InvariantCulture, $"NVML error {(int)result}");
            byte* text = _errorString == null ? null : _errorString(result);
            if (text == null)
                return code;

            int length = 0;
            while (length < MaxErrorStringBytes && text[length] != 0)
                length++;
            string decoded = Encoding.UTF8.GetString(text, length).Trim();
            return decoded.Length == 0 ? code : $"{decoded} ({code})";
        }

        private void BindErrorString() => _errorString = (delegate* unmanaged<Return, byte*>)Export("nvmlErrorString");
    }
}
