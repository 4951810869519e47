using NBitcoin.Secp256k1;

namespace InfraMind.Node.Crypto;

/// <summary>
/// k·P for one fixed point P with additions only: k is cut into signed 6-bit digits d₀ … d₄₂ (each in −31..32,
/// k = Σ dᵢ·2⁶ⁱ), and the table holds |d|·2⁶ⁱ·P for every window i and digit 1..32, so k·P is at most 43 additions
/// of table points (a negative digit adds the point with y negated) and no doublings. Built once, read-only after,
/// so any number of threads may read it. Points are kept in libsecp256k1's 64-byte storage form (affine x and y,
/// normalized) and unpacked on use: 1,360 points, 87,040 bytes.
/// </summary>
/// <remarks>
/// Variable time: for public values only (signature checks), never for a secret scalar.
/// </remarks>
internal sealed class FixedBaseTable
{
    /// <summary>Bits of k per digit.</summary>
    public const int WindowBits = 6;

    /// <summary>Digits of a 256-bit scalar.</summary>
    public const int Windows = (256 + WindowBits - 1) / WindowBits;

    /// <summary>Points per window: the digit magnitudes 1..2⁵.</summary>
    private const int PerWindow = 1 << (WindowBits - 1);

    /// <summary>
    /// Bits in the top window (4). A scalar is below n, so that window reads at most 15, at most 16 with the carry from
    /// below: it never carries out, and needs points for 1..16 only.
    /// </summary>
    private const int TopBits = 256 - ((Windows - 1) * WindowBits);

    private const int TopPerWindow = (1 << TopBits) < PerWindow ? 1 << TopBits : PerWindow;

    /// <summary>Points in a table.</summary>
    public const int Length = ((Windows - 1) * PerWindow) + TopPerWindow;

    /// <summary>Bytes of point data in a table (the array adds its header).</summary>
    public const int Bytes = Length * 64;

    private static readonly Lazy<FixedBaseTable> s_generator = new(() => new FixedBaseTable(in EC.G));

    private readonly GEStorage[] _points;

    /// <summary>The table of <paramref name="point"/>, which must be a point of the curve other than infinity.</summary>
    public FixedBaseTable(in GE point)
    {
        if (point.IsInfinity || !point.IsValidVariable)
            ThrowHelper.ThrowArgument(nameof(point), "a fixed-base table needs a point of secp256k1 other than infinity");

        _points = new GEStorage[Length];
        Span<GEJ> multiples = stackalloc GEJ[PerWindow];
        Span<GE> affine = stackalloc GE[PerWindow];
        GE windowBase = point.NormalizeVariable();
        for (int window = 0; window < Windows; window++)
        {
            // 1·B … 32·B for this window's base B = 2⁶ⁱ·P. No multiple of a point of prime order n is infinity here,
            // since every factor d·2⁶ⁱ (below 2²⁵⁸) is a product of primes smaller than n.
            int count = window == Windows - 1 ? TopPerWindow : PerWindow;
            multiples[0] = windowBase.ToGroupElementJacobian();
            multiples[1] = multiples[0].DoubleVariable();
            for (int digit = 2; digit < count; digit++)
                multiples[digit] = multiples[digit - 1].AddVariable(in windowBase);

            // One field inversion for the whole window.
            GE.SetAllGroupElementJacobianVariable(affine, multiples, count);
            Span<GEStorage> stored = _points.AsSpan(window * PerWindow, count);
            for (int digit = 0; digit < count; digit++)
                stored[digit] = affine[digit].ToStorage();

            if (window < Windows - 1)
                windowBase = multiples[PerWindow - 1].DoubleVariable().ToGroupElementVariable().NormalizeVariable();
        }
    }

    /// <summary>The table of the generator G, built on first use (a few milliseconds) and kept for the process.</summary>
    public static FixedBaseTable Generator => s_generator.Value;

    /// <summary>Adds k·P to <paramref name="accumulator"/>, for any scalar k (reduced, as <see cref="Scalar"/> always is).</summary>
    public void AddMultiple(ref GEJ accumulator, in Scalar k)
    {
        ReadOnlySpan<GEStorage> points = _points;
        uint carry = 0;
        for (int window = 0; window < Windows; window++)
        {
            int offset = window * WindowBits;
            int bits = Math.Min(WindowBits, 256 - offset);

            // Unsigned window value plus the carry (0..64); above 32 it becomes value − 64 and carries one up.
            int digit = (int)(k.GetBitsVariable(offset, bits) + carry);
            carry = digit > PerWindow ? 1u : 0u;
            digit -= (int)carry << WindowBits;
            if (digit == 0)
                continue;

            GE point = points[(window * PerWindow) + Math.Abs(digit) - 1].ToGroupElement();
            if (digit < 0)
                point = point.Negate();
            accumulator = accumulator.AddVariable(in point);
        }
    }

}
