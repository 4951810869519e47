using System.Buffers;

namespace InfraMind.Node.Crypto;

/// <summary>The 0x-prefixed hex that Ethereum tools read and write.</summary>
public static class Hex
{
    /// <summary>Decodes exactly <c>destination.Length</c> bytes from hex, with or without a 0x prefix.</summary>
    public static bool TryDecode(ReadOnlySpan<char> text, Span<byte> destination)
    {
        text = StripPrefix(text);
        if (text.Length != destination.Length * 2)
            return false;
        return Convert.FromHexString(text, destination, out _, out int written) == OperationStatus.Done
            && written == destination.Length;
    }

    /// <summary>Decodes hex of any even length, with or without a 0x prefix; null when it is not hex.</summary>
    public static byte[]? TryDecode(ReadOnlySpan<char> text)
    {
        text = StripPrefix(text);
        if (text.Length % 2 != 0)
            return null;
        var bytes = new byte[text.Length / 2];
        return TryDecode(text, bytes) ? bytes : null;
    }

    /// <summary>"0x" followed by lowercase hex.</summary>
    public static string Encode(ReadOnlySpan<byte> bytes) =>
        string.Create(2 + (bytes.Length * 2), bytes, static (chars, b) =>
        {
            chars[0] = '0';
            chars[1] = 'x';
            Convert.TryToHexStringLower(b, chars[2..], out _);
        });

    /// <summary>Writes "0x" and lowercase hex into <paramref name="destination"/>, which must hold 2 + 2n chars.</summary>
    public static void Encode(ReadOnlySpan<byte> bytes, Span<char> destination)
    {
        destination[0] = '0';
        destination[1] = 'x';
        Convert.TryToHexStringLower(bytes, destination[2..], out _);
    }

    private static ReadOnlySpan<char> StripPrefix(ReadOnlySpan<char> text) =>
        text.StartsWith("0x", StringComparison.OrdinalIgnoreCase) ? text[2..] : text;
}
