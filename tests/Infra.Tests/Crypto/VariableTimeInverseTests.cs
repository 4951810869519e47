using System.Security.Cryptography;
using InfraMind.Node.Crypto;
using NBitcoin.Secp256k1;

namespace InfraMind.Node.Tests.Crypto;

/// <summary><see cref="VariableTimeInverse"/> against the definition (a·a⁻¹ = 1) and NBitcoin.Secp256k1's own inverses.</summary>
public class VariableTimeInverseTests
{
    private const string Order = "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141";
    private const string Prime = "fffffffffffffffffffffffffffffffffffffffffffffffffffffffefffffc2f";

    /// <summary>2,000 random values, then 1, 2, 3, 2¹²⁸, 2²⁵⁵, modulus − 1 and modulus − 2.</summary>
    private static IEnumerable<byte[]> Values(string modulus)
    {
        for (int i = 0; i < 2000; i++)
            yield return RandomNumberGenerator.GetBytes(32);
        foreach (string hex in new[] { "01", "02", "03", "0100000000000000000000000000000000", "8000000000000000000000000000000000000000000000000000000000000000" })
            yield return Convert.FromHexString(hex.PadLeft(64, '0'));
        byte[] minusOne = Convert.FromHexString(modulus);
        minusOne[31] -= 1;
        yield return minusOne;
        byte[] minusTwo = Convert.FromHexString(modulus);
        minusTwo[31] -= 2;
        yield return minusTwo;
    }

    [Fact]
    public void Scalar_inverses_agree_with_libsecp256k1_and_multiply_to_one()
    {
        int checkedValues = 0;
        foreach (byte[] bytes in Values(Order))
        {
            var a = new Scalar(bytes, out _);
            if (a.IsZero)
                continue;
            Scalar inverse = VariableTimeInverse.Of(in a);
            Assert.True(inverse.Multiply(in a).IsOne, Convert.ToHexString(bytes));
            Assert.Equal(a.Inverse(), inverse);
            checkedValues++;
        }

        Assert.True(checkedValues >= 2000);
    }

    [Fact]
    public void Field_inverses_agree_with_libsecp256k1_and_multiply_to_one()
    {
        var one = new FE(1);
        int checkedValues = 0;
        foreach (byte[] bytes in Values(Prime))
        {
            if (!FE.TryCreate(bytes, out FE a) || a.NormalizeVariable().IsZero)
                continue;
            FE inverse = VariableTimeInverse.Of(in a);
            Assert.True((inverse * a).NormalizeVariable().EqualsVariable(in one), Convert.ToHexString(bytes));
            Assert.True(inverse.NormalizeVariable().EqualsVariable(a.Inverse().NormalizeVariable()));
            checkedValues++;
        }

        Assert.True(checkedValues >= 2000);
    }

    [Fact]
    public void A_field_element_of_any_magnitude_is_reduced_first()
    {
        // 5 negated twice without normalizing: 4p + 5 in its limbs, 5 in the field.
        var five = new FE(5);
        FE unreduced = five.Negate(1).Negate(2);
        Assert.True(VariableTimeInverse.Of(in unreduced).NormalizeVariable().EqualsVariable(five.Inverse().NormalizeVariable()));
    }

    [Fact]
    public void Zero_has_no_inverse()
    {
        Assert.Throws<ArgumentException>(() => VariableTimeInverse.Of(Scalar.Zero));
        Assert.Throws<ArgumentException>(() => VariableTimeInverse.Of(FE.Zero));
    }
}
