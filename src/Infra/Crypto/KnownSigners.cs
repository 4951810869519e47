using NBitcoin.Secp256k1;

namespace InfraMind.Node.Crypto;

/// <summary>
/// Signature checks for a fixed set of signers (the trusted schedulers) whose public keys are known, without public key
/// recovery: about twice as fast, for the signature every job carries.
/// </summary>
/// <remarks>
/// <para>
/// A signer's key is learnt from a full recovery (<see cref="Learn"/>); a table of its multiples is then built in the
/// background, and from then on <see cref="TryVerify"/> checks its signatures by computing R = u₁·G + u₂·Q with
/// u₁ = z/s and u₂ = r/s from two fixed-base tables (<see cref="FixedBaseTable"/>), and accepting when R has x = r
/// and the y parity that v names. That R is then the point recovery would use, and recovery gives
/// r⁻¹·(s·R − z·G) = r⁻¹·(z·G + r·Q − z·G) = Q; conversely, when recovery gives Q, that point is u₁·G + u₂·Q. So
/// <see cref="TryVerify"/> is true exactly when <see cref="EthSignature.TryRecover(ReadOnlySpan{byte}, ReadOnlySpan{byte}, out Address, out SignatureError)"/>
/// succeeds with that key (v of 27 or 28 only: x = r + n never arises).
/// </para>
/// <para>
/// Bounded: only the addresses given at construction are ever learnt, one table each (87 KB), plus one for G shared
/// by all. Thread-safe: tables are immutable once published.
/// </para>
/// </remarks>
public sealed class KnownSigners
{
    private readonly Signer[] _signers;
    private readonly TaskScheduler _builder;
    private readonly Func<GE, FixedBaseTable> _buildTable;

    /// <summary>Signers whose keys may be learnt: the trusted set, fixed for the life of this object.</summary>
    public KnownSigners(IEnumerable<Address> signers)
        : this(signers, TaskScheduler.Default)
    {
    }

    /// <summary>
    /// As the public constructor, with the tables built on <paramref name="builder"/> (tests hold builds back) by
    /// <paramref name="buildTable"/> (tests make a build fail).
    /// </summary>
    internal KnownSigners(IEnumerable<Address> signers, TaskScheduler builder, Func<GE, FixedBaseTable>? buildTable = null)
    {
        _signers = signers.Distinct().Select(address => new Signer(address)).ToArray();
        _builder = builder;
        _buildTable = buildTable ?? (static key => new FixedBaseTable(in key));
    }

    /// <summary>
    /// True only when <paramref name="signature"/> is a valid signature of <paramref name="digest"/> in the strict
    /// form <see cref="EthSignature"/> demands and recovers to <paramref name="expected"/>. False in every other case,
    /// including when that signer's key is not learnt or its table not built yet: the caller then recovers, which
    /// gives the reason and the real signer. No allocation.
    /// </summary>
    public bool TryVerify(ReadOnlySpan<byte> digest, ReadOnlySpan<byte> signature, in Address expected)
    {
        FixedBaseTable? table = Find(expected)?.Table;
        if (table is null || EthSignature.CheckForm(digest, signature) != SignatureError.None)
            return false;

        // r and s in 1..n−1, as parsing the compact signature and recovery demand.
        ReadOnlySpan<byte> rBytes = signature[..32];
        var r = new Scalar(rBytes, out int rOverflow);
        var s = new Scalar(signature.Slice(32, 32), out int sOverflow);
        if (rOverflow != 0 || sOverflow != 0 || r.IsZero || s.IsZero)
            return false;

        // z is the digest reduced mod n, as recovery reads it.
        var z = new Scalar(digest, out _);
        Scalar sInverse = VariableTimeInverse.Of(in s);
        GEJ sum = GEJ.Infinity;
        FixedBaseTable.Generator.AddMultiple(ref sum, z.Multiply(in sInverse));
        table.AddMultiple(ref sum, r.Multiply(in sInverse));
        if (sum.IsInfinity)
            return false;

        GE point = sum.ToGroupElementZInv(VariableTimeInverse.Of(in sum.z));
        FE x = point.x.NormalizeVariable();
        FE y = point.y.NormalizeVariable();
        Span<byte> xBytes = stackalloc byte[32];
        x.WriteToSpan(xBytes);
        return xBytes.SequenceEqual(rBytes) && y.IsOdd == (signature[64] == 28);
    }

    /// <summary>
    /// Learns the key of <paramref name="address"/>, which a full recovery showed to be <paramref name="publicKey"/>,
    /// and starts building its table in the background; <see cref="TryVerify"/> uses it once it is built. True when
    /// this call started the build; false when the address is not one of this set or its key is already learnt (or
    /// being learnt). A build that fails is forgotten, and a later call starts another.
    /// </summary>
    public bool Learn(in Address address, ECPubKey publicKey)
    {
        ArgumentNullException.ThrowIfNull(publicKey);
        Signer? signer = Find(address);
        if (signer is null || Volatile.Read(ref signer.Build) is not null)
            return false;
        if (EthSignature.AddressOf(publicKey) != address)
            ThrowHelper.ThrowArgument(nameof(publicKey), $"the public key given for {address} is not that address's key");

        GE key = publicKey.Q;
        Task? build = null;
        build = new Task(() =>
        {
            try
            {
                // G's table first, so a reader that sees this signer's table never waits for G's.
                _ = FixedBaseTable.Generator;
                signer.Publish(_buildTable(key));
            }
            catch
            {
                // Out of memory, most likely: forget this attempt so the next full recovery's Learn tries again
                // (until then the caller recovers, which is slower, never wrong).
                Interlocked.CompareExchange(ref signer.Build, null, build);
                throw;
            }
        });
        if (Interlocked.CompareExchange(ref signer.Build, build, null) is not null)
            return false;
        build.Start(_builder);
        return true;
    }

    /// <summary>True when signatures of <paramref name="address"/> are checked without recovery.</summary>
    public bool IsLearnt(in Address address) => Find(address)?.Table is not null;

    /// <summary>The build of <paramref name="address"/>'s table; completed when there is none.</summary>
    internal Task WhenBuilt(in Address address) => Find(address) is { } signer ? Volatile.Read(ref signer.Build) ?? Task.CompletedTask : Task.CompletedTask;

    private Signer? Find(in Address address)
    {
        foreach (Signer signer in _signers)
        {
            if (signer.Address == address)
                return signer;
        }

        return null;
    }

    private sealed class Signer(Address address)
    {
        public readonly Address Address = address;

        /// <summary>Set by the <see cref="Learn"/> that won; reset only when its build fails, so a key is learnt once.</summary>
        public Task? Build;

        private FixedBaseTable? _table;

        public FixedBaseTable? Table => Volatile.Read(ref _table);

        public void Publish(FixedBaseTable table) => Volatile.Write(ref _table, table);
    }
}
