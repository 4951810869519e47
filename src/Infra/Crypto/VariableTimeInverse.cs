using System.Buffers.Binary;
using NBitcoin.Secp256k1;

namespace InfraMind.Node.Crypto;

/// <summary>
/// Inverses mod n (scalars) and mod p (field elements) by the binary extended Euclidean algorithm: a few microseconds
/// where NBitcoin.Secp256k1's inverses (exponentiation, the same code for secret and public values) take 20 to 40.
/// </summary>
/// <remarks>
/// Variable time, like libsecp256k1's own <c>_var</c> inverses: for public values only (a signature's s, the z of a
/// point computed from public values), never for a secret.
/// </remarks>
internal static class VariableTimeInverse
{
    // Little-endian 64-bit limbs.
    private static readonly U256 Order = new(0xBFD25E8CD0364141, 0xBAAEDCE6AF48A03B, 0xFFFFFFFFFFFFFFFE, 0xFFFFFFFFFFFFFFFF);
    private static readonly U256 Prime = new(0xFFFFFFFEFFFFFC2F, 0xFFFFFFFFFFFFFFFF, 0xFFFFFFFFFFFFFFFF, 0xFFFFFFFFFFFFFFFF);

    /// <summary>a⁻¹ mod n for a scalar a other than zero.</summary>
    public static Scalar Of(in Scalar a)
    {
        if (a.IsZero)
            ThrowHelper.ThrowArgument(nameof(a), "zero has no inverse");
        Span<byte> bytes = stackalloc byte[32];
        a.WriteToSpan(bytes);
        InvertInPlace(bytes, in Order);
        return new Scalar(bytes);
    }

    /// <summary>a⁻¹ mod p for a field element a other than zero (any magnitude).</summary>
    public static FE Of(in FE a)
    {
        FE normal = a.NormalizeVariable();
        if (normal.IsZero)
            ThrowHelper.ThrowArgument(nameof(a), "zero has no inverse");
        Span<byte> bytes = stackalloc byte[32];
        normal.WriteToSpan(bytes);
        InvertInPlace(bytes, in Prime);
        return new FE(bytes);
    }

    /// <summary>Replaces the 32-byte big-endian value in <paramref name="bigEndian"/> with its inverse mod <paramref name="modulus"/>.</summary>
    private static void InvertInPlace(Span<byte> bigEndian, in U256 modulus) => Inverse(U256.Read(bigEndian), in modulus).Write(bigEndian);

    /// <summary>
    /// a⁻¹ mod m for an odd m and 0 &lt; a &lt; m with gcd(a, m) = 1 (Hankerson, Menezes and Vanstone, Guide to
    /// Elliptic Curve Cryptography, algorithm 2.22). Invariants: x₁·a ≡ u and x₂·a ≡ v (mod m); u and v shrink to
    /// their gcd, 1.
    /// </summary>
    private static U256 Inverse(U256 a, in U256 m)
    {
        U256 u = a;
        U256 v = m;
        U256 x1 = new(1, 0, 0, 0);
        U256 x2 = default;
        while (!u.IsOne && !v.IsOne)
        {
            while (u.IsEven)
            {
                u = u.Half();
                x1 = HalfMod(in x1, in m);
            }

            while (v.IsEven)
            {
                v = v.Half();
                x2 = HalfMod(in x2, in m);
            }

            if (U256.Subtract(in u, in v, out U256 difference))
            {
                v = v.Minus(in u);
                x2 = SubtractMod(in x2, in x1, in m);
            }
            else
            {
                u = difference;
                x1 = SubtractMod(in x1, in x2, in m);
            }
        }

        return u.IsOne ? x1 : x2;
    }

    /// <summary>x / 2 mod m for x &lt; m: x + m when x is odd (even then, and below 2m), halved with its carry.</summary>
    private static U256 HalfMod(in U256 x, in U256 m)
    {
        if (x.IsEven)
            return x.Half();
        bool carry = U256.Add(in x, in m, out U256 sum);
        return sum.Half(carry);
    }

    /// <summary>x − y mod m for x, y &lt; m.</summary>
    private static U256 SubtractMod(in U256 x, in U256 y, in U256 m)
    {
        bool borrow = U256.Subtract(in x, in y, out U256 difference);
        if (borrow)
            U256.Add(in difference, in m, out difference);
        return difference;
    }

    private readonly struct U256(ulong l0, ulong l1, ulong l2, ulong l3)
    {
        private readonly ulong _l0 = l0;
        private readonly ulong _l1 = l1;
        private readonly ulong _l2 = l2;
        private readonly ulong _l3 = l3;

        public bool IsEven => (_l0 & 1) == 0;

        public bool IsOne => _l0 == 1 && (_l1 | _l2 | _l3) == 0;

        public static U256 Read(ReadOnlySpan<byte> bigEndian) => new(
            BinaryPrimitives.ReadUInt64BigEndian(bigEndian[24..]),
            BinaryPrimitives.ReadUInt64BigEndian(bigEndian[16..]),
            BinaryPrimitives.ReadUInt64BigEndian(bigEndian[8..]),
            BinaryPrimitives.ReadUInt64BigEndian(bigEndian));

        public void Write(Span<byte> bigEndian)
        {
            BinaryPrimitives.WriteUInt64BigEndian(bigEndian, _l3);
            BinaryPrimitives.WriteUInt64BigEndian(bigEndian[8..], _l2);
            BinaryPrimitives.WriteUInt64BigEndian(bigEndian[16..], _l1);
            BinaryPrimitives.WriteUInt64BigEndian(bigEndian[24..], _l0);
        }

        /// <summary>This value shifted right by one, with <paramref name="top"/> as the new bit 255.</summary>
        public U256 Half(bool top = false) => new(
            (_l0 >> 1) | (_l1 << 63),
            (_l1 >> 1) | (_l2 << 63),
            (_l2 >> 1) | (_l3 << 63),
            (_l3 >> 1) | (top ? 1UL << 63 : 0));

        /// <summary>This value minus <paramref name="other"/>, which is not greater.</summary>
        public U256 Minus(in U256 other)
        {
            Subtract(in this, in other, out U256 difference);
            return difference;
        }

        /// <summary>a + b mod 2²⁵⁶; true when it carried out.</summary>
        public static bool Add(in U256 a, in U256 b, out U256 sum)
        {
            ulong s0 = a._l0 + b._l0;
            ulong c = s0 < a._l0 ? 1UL : 0;
            ulong s1 = a._l1 + b._l1 + c;
            c = (s1 < a._l1 || (c == 1 && s1 == a._l1)) ? 1UL : 0;
            ulong s2 = a._l2 + b._l2 + c;
            c = (s2 < a._l2 || (c == 1 && s2 == a._l2)) ? 1UL : 0;
            ulong s3 = a._l3 + b._l3 + c;
            c = (s3 < a._l3 || (c == 1 && s3 == a._l3)) ? 1UL : 0;
            sum = new U256(s0, s1, s2, s3);
            return c == 1;
        }

        /// <summary>a − b mod 2²⁵⁶; true when it borrowed (a &lt; b).</summary>
        public static bool Subtract(in U256 a, in U256 b, out U256 difference)
        {
            ulong d0 = a._l0 - b._l0;
            ulong borrow = a._l0 < b._l0 ? 1UL : 0;
            ulong d1 = a._l1 - b._l1 - borrow;
            borrow = (a._l1 < b._l1 || (borrow == 1 && a._l1 == b._l1)) ? 1UL : 0;
            ulong d2 = a._l2 - b._l2 - borrow;
            borrow = (a._l2 < b._l2 || (borrow == 1 && a._l2 == b._l2)) ? 1UL : 0;
            ulong d3 = a._l3 - b._l3 - borrow;
            borrow = (a._l3 < b._l3 || (borrow == 1 && a._l3 == b._l3)) ? 1UL : 0;
            difference = new U256(d0, d1, d2, d3);
            return borrow == 1;
        }
    }
}
