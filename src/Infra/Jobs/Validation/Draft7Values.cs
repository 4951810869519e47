using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;

namespace InfraMind.Node.Jobs.Validation;

/// <summary>
/// A JSON number read exactly from its text, so 1, 1.0, 10e-1 and 0.1e1 are one value and 1e400 is not infinity:
/// value = (Negative ? -1 : 1) × 0.<see cref="Digits"/> × 10^<see cref="Exponent"/>. Digits has no leading or
/// trailing zeros; zero is "" with exponent 0 and never negative.
/// </summary>
internal readonly record struct JsonNumber(bool Negative, string Digits, long Exponent) : IComparable<JsonNumber>
{
    // An exponent beyond this is far past any finite digit count, so clamping it keeps order and equality.
    private const long ExponentClamp = 1L << 40;

    public bool IsZero => Digits.Length == 0;

    public static JsonNumber Of(JsonElement number) => Parse(JsonMarshal.GetRawUtf8Value(number));

    /// <summary>Reads a number the JSON reader already accepted (-?int(.frac)?([eE][+-]?digits)?).</summary>
    public static JsonNumber Parse(ReadOnlySpan<byte> raw)
    {
        bool negative = raw.Length > 0 && raw[0] == '-';
        int i = negative ? 1 : 0;
        var digits = new StringBuilder(raw.Length);
        long point = 0;
        for (; i < raw.Length && raw[i] is >= (byte)'0' and <= (byte)'9'; i++)
        {
            digits.Append((char)raw[i]);
            point++;
        }

        if (i < raw.Length && raw[i] == '.')
        {
            for (i++; i < raw.Length && raw[i] is >= (byte)'0' and <= (byte)'9'; i++)
                digits.Append((char)raw[i]);
        }

        long exponent = 0;
        if (i < raw.Length && raw[i] is (byte)'e' or (byte)'E')
        {
            i++;
            bool minus = i < raw.Length && raw[i] == '-';
            if (i < raw.Length && raw[i] is (byte)'-' or (byte)'+')
                i++;
            for (; i < raw.Length && raw[i] is >= (byte)'0' and <= (byte)'9'; i++)
                exponent = Math.Min(exponent * 10 + (raw[i] - '0'), ExponentClamp);
            if (minus)
                exponent = -exponent;
        }

        int lead = 0;
        while (lead < digits.Length && digits[lead] == '0')
            lead++;
        int end = digits.Length;
        while (end > lead && digits[end - 1] == '0')
            end--;
        if (end == lead)
            return new JsonNumber(false, "", 0);
        return new JsonNumber(negative, digits.ToString(lead, end - lead), point - lead + exponent);
    }

    /// <summary>No digits after the point once the exponent is applied (draft-07: 1.0 is an integer).</summary>
    public bool IsInteger => Digits.Length <= Exponent || IsZero;

    public int CompareTo(JsonNumber other)
    {
        int sign = IsZero ? 0 : Negative ? -1 : 1;
        int otherSign = other.IsZero ? 0 : other.Negative ? -1 : 1;
        if (sign != otherSign || sign == 0)
            return sign.CompareTo(otherSign);
        int magnitude = Exponent != other.Exponent
            ? Exponent.CompareTo(other.Exponent)
            : string.CompareOrdinal(Digits, other.Digits);
        return sign * Math.Sign(magnitude);
    }

    public override string ToString() => IsZero ? "0" : $"{(Negative ? "-" : "")}0.{Digits}e{Exponent.ToString(CultureInfo.InvariantCulture)}";

    public double ToDouble() =>
        double.Parse(ToString(), NumberStyles.Float, CultureInfo.InvariantCulture);
}

/// <summary>
/// A string that is equal for two JSON values exactly when JSON Schema calls them equal: numbers by value, object
/// members in any order. Used by const, enum and uniqueItems so each is one hash lookup, not a pairwise walk.
/// </summary>
internal static class JsonKey
{
    public static string Of(JsonElement value, Evaluator? evaluator = null)
    {
        var builder = new StringBuilder();
        Append(builder, value, evaluator);
        return builder.ToString();
    }

    private static void Append(StringBuilder builder, JsonElement value, Evaluator? evaluator)
    {
        // The work is proportional to the value: it counts against the evaluation's step budget.
        evaluator?.Step();
        switch (value.ValueKind)
        {
            case JsonValueKind.Null:
                builder.Append('z');
                break;
            case JsonValueKind.True:
                builder.Append('t');
                break;
            case JsonValueKind.False:
                builder.Append('f');
                break;
            case JsonValueKind.Number:
                builder.Append('n').Append(JsonNumber.Of(value).ToString()).Append(';');
                break;
            case JsonValueKind.String:
                AppendString(builder, value.GetString()!);
                break;
            case JsonValueKind.Array:
                builder.Append('[');
                foreach (JsonElement item in value.EnumerateArray())
                    Append(builder, item, evaluator);
                builder.Append(']');
                break;
            case JsonValueKind.Object:
                // Each member encoded on its own, then sorted: names are unique, so the sorted list is the same
                // for any member order and differs for any other object.
                var members = new List<string>();
                var member = new StringBuilder();
                foreach (JsonProperty property in value.EnumerateObject())
                {
                    member.Clear();
                    AppendString(member, property.Name);
                    Append(member, property.Value, evaluator);
                    members.Add(member.ToString());
                }

                members.Sort(StringComparer.Ordinal);
                builder.Append('{');
                foreach (string encoded in members)
                    builder.Append(encoded);
                builder.Append('}');
                break;
        }
    }

    // Length-prefixed, so no string content can imitate the structure around it.
    private static void AppendString(StringBuilder builder, string text) =>
        builder.Append('s').Append(text.Length.ToString(CultureInfo.InvariantCulture)).Append(':').Append(text);
}
