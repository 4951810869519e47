using System.Text.Json;

namespace InfraMind.Node.Containers.Runs;

/// <summary>Reads a rest model's answer: a JSON object whose "output" (or "result") member is the output.</summary>
public static class ModelOutput
{
    /// <summary>
    /// The raw JSON text of the "output" member (else "result") of the top-level object, sliced out of
    /// <paramref name="json"/> without building a document. False when the answer is not such an object.
    /// </summary>
    public static bool TryExtract(ReadOnlySpan<byte> json, out ReadOnlySpan<byte> output)
    {
        output = default;
        ReadOnlySpan<byte> result = default;
        bool haveOutput = false, haveResult = false;
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 64 });
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
                return false;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                bool isOutput = reader.ValueTextEquals("output"u8);
                bool isResult = reader.ValueTextEquals("result"u8);
                reader.Read();
                int start = (int)reader.TokenStartIndex;
                reader.Skip();
                ReadOnlySpan<byte> value = json[start..(int)reader.BytesConsumed];
                if (isOutput && !haveOutput)
                {
                    output = value;
                    haveOutput = true;
                }
                else if (isResult && !haveResult)
                {
                    result = value;
                    haveResult = true;
                }
            }

            if (reader.TokenType != JsonTokenType.EndObject || reader.Read())
                return false;
        }
        catch (JsonException)
        {
            return false;
        }

        if (!haveOutput && haveResult)
            output = result;
        return haveOutput || haveResult;
    }
}
