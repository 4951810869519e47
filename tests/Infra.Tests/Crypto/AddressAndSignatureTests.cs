using InfraMind.Node.Crypto;

namespace InfraMind.Node.Tests.Crypto;

public class AddressAndSignatureTests
{
    private const string KeyOneAddress = "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf";

    [Theory]
    [InlineData(KeyOneAddress)]
    [InlineData("0x7e5f4552091a69125d5dfcb7b8c2659029395bdf")]
    [InlineData("0x7E5F4552091A69125D5DFCB7B8C2659029395BDF")]
    public void Checksummed_lowercase_and_uppercase_forms_parse_to_the_same_address(string text)
    {
        Assert.True(Address.TryParse(text, out Address address, out AddressError error), error.ToString());
        Assert.Equal(KeyOneAddress, address.ToString());
    }

    [Theory]
    [InlineData("0x7E5F4552091A69125d5DfCb7b8C2659029395BdF", AddressError.Checksum)]
    [InlineData("0x7E5F4552091A69125d5DfCb7b8C2659029395Bd", AddressError.Length)]
    [InlineData("7E5F4552091A69125d5DfCb7b8C2659029395Bdf00", AddressError.Length)]
    [InlineData("0x7E5F4552091A69125d5DfCb7b8C2659029395Bdg", AddressError.NotHex)]
    [InlineData("", AddressError.Length)]
    [InlineData("0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf ", AddressError.Length)]
    public void Malformed_addresses_are_refused_with_a_reason(string text, AddressError expected)
    {
        Assert.False(Address.TryParse(text, out _, out AddressError error));
        Assert.Equal(expected, error);
    }

    [Fact]
    public void A_signature_recovers_its_signer_and_is_refused_for_any_other_digest()
    {
        byte[] secret = new byte[32];
        secret[31] = 1;
        Assert.True(NodeKey.TryCreate(secret, out NodeKey? key));
        using (key)
        {
            Hash32 digest = Keccak256.Hash("message"u8);
            byte[] signature = new byte[65];
            key!.Sign(digest, signature);
            Assert.True(EthSignature.Verify(digest, signature, key.Address));

            Hash32 other = Keccak256.Hash("other"u8);
            Assert.False(EthSignature.Verify(other, signature, key.Address));
        }
    }

    [Theory]
    [InlineData(64, 27, SignatureError.Length)]
    [InlineData(66, 27, SignatureError.Length)]
    [InlineData(65, 0, SignatureError.RecoveryByte)]
    [InlineData(65, 1, SignatureError.RecoveryByte)]
    [InlineData(65, 29, SignatureError.RecoveryByte)]
    public void Malformed_signatures_are_refused_with_a_reason(int length, byte v, SignatureError expected)
    {
        byte[] signature = new byte[length];
        signature[0] = 1;
        signature[length - 1] = v;
        Assert.False(EthSignature.TryRecover(new byte[32], signature, out _, out SignatureError error));
        Assert.Equal(expected, error);
    }

    [Fact]
    public void A_zero_signature_does_not_recover()
    {
        byte[] signature = new byte[65];
        signature[64] = 27;
        Assert.False(EthSignature.TryRecover(new byte[32], signature, out _, out SignatureError error));
        Assert.Equal(SignatureError.Unrecoverable, error);
    }

    [Theory]
    [InlineData("0000000000000000000000000000000000000000000000000000000000000000")]
    [InlineData("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141")]
    [InlineData("ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff")]
    public void Out_of_range_private_keys_are_refused(string hex)
    {
        Assert.False(NodeKey.TryCreate(Convert.FromHexString(hex), out _));
    }
}
