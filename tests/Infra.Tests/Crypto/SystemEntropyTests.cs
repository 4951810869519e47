using InfraMind.Node.Crypto;

namespace InfraMind.Node.Tests.Crypto;

public class SystemEntropyTests
{
    [Fact]
    public void A_large_request_is_filled_to_the_end()
    {
        // getrandom(2) may return fewer bytes than asked; every 64-byte stretch must still be written.
        byte[] buffer = new byte[1024 * 1024 + 13];
        SystemEntropy.Fill(buffer);
        for (int at = 0; at < buffer.Length; at += 64)
        {
            ReadOnlySpan<byte> stretch = buffer.AsSpan(at, Math.Min(64, buffer.Length - at));
            Assert.True(stretch.Length < 8 || stretch.ContainsAnyExcept((byte)0), $"bytes {at}..{at + stretch.Length} were left zero");
        }
    }

    [Fact]
    public void Two_draws_differ_and_an_empty_request_is_a_no_op()
    {
        byte[] first = new byte[32];
        byte[] second = new byte[32];
        SystemEntropy.Fill(first);
        SystemEntropy.Fill(second);
        Assert.NotEqual(first, second);
        SystemEntropy.Fill([]);
    }
}
