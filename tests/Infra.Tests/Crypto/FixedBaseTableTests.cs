using System.Numerics;
using System.Security.Cryptography;
using InfraMind.Node.Crypto;
using NBitcoin.Secp256k1;

namespace InfraMind.Node.Tests.Crypto;

/// <summary>
/// <see cref="FixedBaseTable"/> against libsecp256k1's own multiplications (the constant-time k·G of signing, the
/// Strauss a·P + b·G of verification), for random scalars and for the ones that stress the signed digits.
/// </summary>
public class FixedBaseTableTests
{
    private static readonly BigInteger N = BigInteger.Parse("0fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141", System.Globalization.NumberStyles.HexNumber);

    /// <summary>300 random scalars, then the edges of the digit recoding.</summary>
    private static IEnumerable<Scalar> Scalars()
    {
        for (int i = 0; i < 300; i++)
            yield return new Scalar(RandomNumberGenerator.GetBytes(32), out _);

        BigInteger[] edges =
        [
            0, 1, 2, 31, 32, 33, 63, 64, 65, 4095, 4096,
            N - 1, N - 2, (N - 1) / 2, BigInteger.One << 252, BigInteger.One << 255, (BigInteger.One << 255) - 1,
            EveryWindow(32), // the largest digit in every window, no carry
            EveryWindow(33), // −31 and a carry in every window
            EveryWindow(63), // −1 and a carry in every window: a carry ripples to the top
        ];
        foreach (BigInteger edge in edges)
            yield return ToScalar(edge);
    }

    [Fact]
    public void Multiples_of_G_match_libsecp256k1()
    {
        foreach (Scalar k in Scalars())
        {
            GEJ sum = GEJ.Infinity;
            FixedBaseTable.Generator.AddMultiple(ref sum, in k);
            AssertSame(Context.Instance.EcMultGenContext.MultGen(in k), sum, k);
        }
    }

    [Fact]
    public void Multiples_of_a_public_key_match_libsecp256k1()
    {
        GE point = RandomPoint();
        var table = new FixedBaseTable(in point);
        GEJ jacobian = point.ToGroupElementJacobian();
        Scalar? noG = null;
        foreach (Scalar k in Scalars())
        {
            GEJ sum = GEJ.Infinity;
            table.AddMultiple(ref sum, in k);
            AssertSame(Context.Instance.EcMultContext.Mult(in jacobian, in k, in noG), sum, k);
        }
    }

    [Fact]
    public void A_multiple_is_added_to_what_the_accumulator_holds()
    {
        GE point = RandomPoint();
        var table = new FixedBaseTable(in point);
        Scalar k = ToScalar(12345);
        GEJ sum = point.ToGroupElementJacobian();
        table.AddMultiple(ref sum, in k);
        GEJ expected = GEJ.Infinity;
        table.AddMultiple(ref expected, ToScalar(12346));
        AssertSame(expected, sum, k);

        // P + (n − 1)·P is the point at infinity.
        GEJ none = point.ToGroupElementJacobian();
        table.AddMultiple(ref none, ToScalar(N - 1));
        Assert.True(none.IsInfinity);
    }

    [Fact]
    public void A_table_holds_1360_points_in_85_KiB()
    {
        Assert.Equal(1360, FixedBaseTable.Length);
        Assert.Equal(87_040, FixedBaseTable.Bytes);

        GE point = RandomPoint();
        long before = GC.GetAllocatedBytesForCurrentThread();
        var table = new FixedBaseTable(in point);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        GC.KeepAlive(table);
        Assert.InRange(allocated, FixedBaseTable.Bytes, FixedBaseTable.Bytes + 256);
    }

    [Fact]
    public void Infinity_and_points_off_the_curve_are_refused()
    {
        Assert.Throws<ArgumentException>(() => new FixedBaseTable(GE.Infinity));
        Assert.Throws<ArgumentException>(() => new FixedBaseTable(new GE(new FE(1), new FE(1))));
    }

    private static BigInteger EveryWindow(int digit)
    {
        BigInteger value = 0;
        for (int window = 0; window < FixedBaseTable.Windows - 1; window++)
            value += (BigInteger)digit << (window * FixedBaseTable.WindowBits);
        return value % N;
    }

    private static Scalar ToScalar(BigInteger value)
    {
        byte[] bytes = value.ToByteArray(isUnsigned: true, isBigEndian: true);
        byte[] padded = new byte[32];
        bytes.CopyTo(padded, 32 - bytes.Length);
        var scalar = new Scalar(padded, out int overflow);
        Assert.Equal(0, overflow);
        return scalar;
    }

    private static GE RandomPoint()
    {
        Assert.True(Context.Instance.TryCreateECPrivKey(RandomNumberGenerator.GetBytes(32), out ECPrivKey? key));
        return key!.CreatePubKey().Q;
    }

    private static void AssertSame(GEJ expected, GEJ actual, Scalar k)
    {
        string label = Convert.ToHexString(k.ToBytes());
        Assert.True(expected.IsInfinity == actual.IsInfinity, label);
        if (expected.IsInfinity)
            return;
        Span<byte> expectedBytes = stackalloc byte[65];
        Span<byte> actualBytes = stackalloc byte[65];
        ECPubKey.Serialize(expected.ToGroupElement(), compressed: false, expectedBytes, out _);
        ECPubKey.Serialize(actual.ToGroupElement(), compressed: false, actualBytes, out _);
        Assert.True(expectedBytes.SequenceEqual(actualBytes), label);
    }
}
