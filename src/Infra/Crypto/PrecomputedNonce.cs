using NBitcoin.Secp256k1;

namespace InfraMind.Node.Crypto;

/// <summary>
/// The part of an ECDSA signature that does not depend on the digest: for a nonce k, r = (k·G).x mod n, k⁻¹, and
/// the parity of (k·G).y that becomes the recovery id. Signing a digest z is then s = k⁻¹·(z + r·d): two scalar
/// multiplications instead of a point multiplication and an inversion. Used for one signature, then cleared.
/// </summary>
internal sealed class PrecomputedNonce
{
    private Scalar _r;
    private Scalar _inverse;
    private bool _oddY;

    private PrecomputedNonce(in Scalar r, in Scalar inverse, bool oddY)
    {
        _r = r;
        _inverse = inverse;
        _oddY = oddY;
    }

    /// <summary>True once <see cref="Clear"/> has run: nothing of k is left in this object.</summary>
    internal bool IsCleared => _r.IsZero && _inverse.IsZero && !_oddY;

    /// <summary>
    /// The precomputation for <paramref name="k"/> (not zero, below n); null when k must be discarded: R.x ≥ n
    /// (probability about 2⁻¹²⁸) needs recovery id 2 or 3, which v = 27/28 cannot carry, and r = 0 signs nothing.
    /// </summary>
    public static PrecomputedNonce? TryCreate(in Scalar k)
    {
        // The constant-time multiplication and inverse that libsecp256k1 uses for its own signatures.
        GE point = Context.Instance.EcMultGenContext.MultGen(in k).ToGroupElement();
        FE x = point.x.Normalize();
        FE y = point.y.Normalize();
        Span<byte> xBytes = stackalloc byte[32];
        x.WriteToSpan(xBytes);
        var r = new Scalar(xBytes, out int overflow);
        if (overflow != 0 || r.IsZero)
            return null;
        return new PrecomputedNonce(r, k.Inverse(), y.IsOdd);
    }

    /// <summary>
    /// Writes r ‖ s ‖ v for a 32-byte digest; false when s comes out zero (the caller discards this nonce and takes
    /// another). The caller clears the nonce either way.
    /// </summary>
    public bool TrySign(in Scalar secret, ReadOnlySpan<byte> digest, Span<byte> signature)
    {
        // z is the digest reduced mod n, as libsecp256k1 and ethers read it, so digests ≥ n sign and verify too.
        var z = new Scalar(digest, out _);
        Scalar sum = _r.Multiply(in secret).Add(in z);
        Scalar s = _inverse.Multiply(in sum);
        Scalar.Clear(ref sum); // r·d + z gives d away to whoever knows r and z
        if (s.IsZero)
            return false;

        // Low-s (EIP-2): (r, n − s) is the signature for the point −R, whose y has the other parity.
        bool high = s.IsHigh;
        if (high)
            s = s.Negate();
        _r.WriteToSpan(signature[..32]);
        s.WriteToSpan(signature.Slice(32, 32));
        signature[64] = (byte)(27 + ((_oddY ? 1 : 0) ^ (high ? 1 : 0)));
        return true;
    }

    /// <summary>Overwrites k⁻¹ (with one signature it gives the key away: d = (s·k − z)/r) and r, so nothing is left.</summary>
    public void Clear()
    {
        Scalar.Clear(ref _r);
        Scalar.Clear(ref _inverse);
        _oddY = false;
    }
}
