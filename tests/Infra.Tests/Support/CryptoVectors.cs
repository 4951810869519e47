using System.Text.Json;
using InfraMind.Node.Crypto;

namespace InfraMind.Node.Tests.Support;

/// <summary>
/// tests/vectors/crypto-vectors.json, made by tests/vectors/make-vectors.mjs with ethers and @noble/hashes.
/// Loaded as a mutable JSON tree so the mutation tests can flip bytes in it.
/// </summary>
public static class CryptoVectors
{
    public static string FilePath => Path.Combine(AppContext.BaseDirectory, "vectors", "crypto-vectors.json");

    public static JsonElement Load() => JsonDocument.Parse(File.ReadAllText(FilePath)).RootElement.Clone();

    public static IEnumerable<JsonElement> Section(JsonElement root, string name) => root.GetProperty(name).EnumerateArray();

    /// <summary>The input pattern the generator uses for length-only cases: byte[i] = (i * 31 + 7) &amp; 0xff.</summary>
    public static byte[] Pattern(int length)
    {
        var bytes = new byte[length];
        for (int i = 0; i < length; i++)
            bytes[i] = (byte)((i * 31) + 7);
        return bytes;
    }

    public static byte[] HexBytes(JsonElement element) =>
        Hex.TryDecode(element.GetString()!) ?? throw new FormatException($"not hex: {element}");
}
