namespace InfraMind.Node.Models.Content;

/// <summary>
/// base58btc (the Bitcoin alphabet) as CIDv0 and multibase 'z' use it. A big-number conversion, quadratic in the
/// length, which is fine for the 34 to 40 bytes of a CID.
/// </summary>
public static class Base58Btc
{
    private const string Alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

    public static string Encode(ReadOnlySpan<byte> bytes)
    {
        int zeros = 0;
        while (zeros < bytes.Length && bytes[zeros] == 0)
            zeros++;

        // log(256) / log(58) is just under 1.38: digits needed per byte.
        int size = ((bytes.Length - zeros) * 138 / 100) + 1;
        var digits = new byte[size];
        int length = 0;
        for (int i = zeros; i < bytes.Length; i++)
        {
            int carry = bytes[i];
            int done = 0;
            for (int k = size - 1; (carry != 0 || done < length) && k >= 0; k--, done++)
            {
                carry += 256 * digits[k];
                digits[k] = (byte)(carry % 58);
                carry /= 58;
            }

            length = done;
        }

        int first = size - length;
        while (first < size && digits[first] == 0)
            first++;
        var chars = new char[zeros + (size - first)];
        chars.AsSpan(0, zeros).Fill('1');
        for (int i = first; i < size; i++)
            chars[zeros + i - first] = Alphabet[digits[i]];
        return new string(chars);
    }

    /// <summary>Decodes base58btc; null when a character is outside the alphabet (its index in <paramref name="badIndex"/>).</summary>
    public static byte[]? TryDecode(ReadOnlySpan<char> text, out int badIndex)
    {
        badIndex = -1;
        int zeros = 0;
        while (zeros < text.Length && text[zeros] == '1')
            zeros++;

        // log(58) / log(256) is just under 0.733: bytes needed per digit.
        int size = ((text.Length - zeros) * 733 / 1000) + 1;
        var bytes = new byte[size];
        int length = 0;
        for (int i = zeros; i < text.Length; i++)
        {
            int value = Value(text[i]);
            if (value < 0)
            {
                badIndex = i;
                return null;
            }

            int carry = value;
            int done = 0;
            for (int k = size - 1; (carry != 0 || done < length) && k >= 0; k--, done++)
            {
                carry += 58 * bytes[k];
                bytes[k] = (byte)carry;
                carry >>= 8;
            }

            length = done;
        }

        int first = size - length;
        while (first < size && bytes[first] == 0)
            first++;
        var result = new byte[zeros + (size - first)];
        bytes.AsSpan(first).CopyTo(result.AsSpan(zeros));
        return result;
    }

    private static int Value(char c) => c < 128 ? Alphabet.IndexOf(c, StringComparison.Ordinal) : -1;
}

/// <summary>
/// RFC 4648 base32 without padding, as multibase 'b' (lowercase) and 'B' (uppercase) use it. Decoding is strict:
/// one case only, no padding, and the unused low bits of the last character must be zero, so every byte string
/// has exactly one spelling.
/// </summary>
public static class Base32
{
    private const string Lower = "abcdefghijklmnopqrstuvwxyz234567";

    /// <summary>Lowercase, unpadded.</summary>
    public static string Encode(ReadOnlySpan<byte> bytes)
    {
        var chars = new char[((bytes.Length * 8) + 4) / 5];
        int buffer = 0;
        int bits = 0;
        int at = 0;
        foreach (byte b in bytes)
        {
            buffer = (buffer << 8) | b;
            bits += 8;
            while (bits >= 5)
            {
                bits -= 5;
                chars[at++] = Lower[(buffer >> bits) & 31];
            }
        }

        if (bits > 0)
            chars[at++] = Lower[(buffer << (5 - bits)) & 31];
        return new string(chars, 0, at);
    }

    /// <summary>
    /// Decodes unpadded base32 in one case; null when a character is outside that case's alphabet (its index in
    /// <paramref name="badIndex"/>) or when the length or the trailing bits are not canonical (<paramref name="badIndex"/> = -1).
    /// </summary>
    public static byte[]? TryDecode(ReadOnlySpan<char> text, bool upperCase, out int badIndex)
    {
        badIndex = -1;
        var bytes = new byte[text.Length * 5 / 8];
        int buffer = 0;
        int bits = 0;
        int at = 0;
        for (int i = 0; i < text.Length; i++)
        {
            int value = Value(text[i], upperCase);
            if (value < 0)
            {
                badIndex = i;
                return null;
            }

            buffer = ((buffer << 5) | value) & 0xFFF;
            bits += 5;
            if (bits >= 8)
            {
                bits -= 8;
                bytes[at++] = (byte)(buffer >> bits);
            }
        }

        // Leftover bits are padding: fewer than 5 of them, all zero, or the text had an impossible length.
        if (bits >= 5 || (buffer & ((1 << bits) - 1)) != 0)
            return null;
        return bytes;
    }

    private static int Value(char c, bool upperCase)
    {
        if (c is >= '2' and <= '7')
            return c - '2' + 26;
        char a = upperCase ? 'A' : 'a';
        return c >= a && c <= a + 25 ? c - a : -1;
    }
}
