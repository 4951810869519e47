using System.Globalization;

namespace InfraMind.Node.Hardware;

/// <summary>
/// The resource limits of one cgroup, in cgroup v1 terms whichever version was read; null means no limit.
/// <see cref="MemoryAndSwapBytes"/> is memory plus swap together, as v1's memory.memsw.limit_in_bytes and
/// Docker's --memory-swap count it; v2's memory.swap.max counts swap alone, so the reader adds memory.max to it.
/// </summary>
public sealed record CgroupLimits(long? MemoryBytes, long? MemoryAndSwapBytes, long? CpuQuotaMicros, long CpuPeriodMicros, long? Pids)
{
    /// <summary>The CFS period Docker, Podman and the kernel use unless told otherwise.</summary>
    public const long DefaultCpuPeriodMicros = 100_000;

    /// <summary>
    /// False when the kernel keeps no swap limit (v1 without memory.memsw.*, v2 without memory.swap.max:
    /// swapaccount=0 or CONFIG_MEMCG_SWAP off); <see cref="MemoryAndSwapBytes"/> is then null and unknown.
    /// </summary>
    public bool SwapAccounting { get; init; } = true;

    /// <summary>The CPU quota as thousandths of a CPU (Docker's --cpus=1.5 is 1500), rounded to nearest; null when unlimited.</summary>
    public long? CpuMillicores => CpuQuotaMicros is { } quota && CpuPeriodMicros > 0
        ? long.CreateSaturating((((Int128)quota * 1000) + (CpuPeriodMicros / 2)) / CpuPeriodMicros)
        : null;

    /// <summary>No limit on anything.</summary>
    public static CgroupLimits Unlimited { get; } = new(null, null, null, DefaultCpuPeriodMicros, null);

    /// <summary>
    /// Each limit of <paramref name="wanted"/> that is not in force here (this being what was read from the
    /// container's cgroup). Empty means every limit is as asked; the sandbox refuses a job otherwise.
    /// A limit that cannot be checked (memory+swap without swap accounting) is not listed; see the overload.
    /// </summary>
    public IReadOnlyList<LimitMismatch> CompareTo(CgroupLimits wanted) => CompareTo(wanted, out _);

    /// <summary>
    /// As <see cref="CompareTo(CgroupLimits)"/>, and <paramref name="notChecked"/> lists the limits that were asked
    /// for but that this kernel cannot show (today only <see cref="LimitKind.MemoryAndSwap"/> without swap accounting).
    /// </summary>
    /// <remarks>
    /// The kernel stores byte limits in whole pages, so a limit reads back rounded down: memory may be up to one
    /// page under what was asked, memory+swap up to two (v2 rounds memory.max and memory.swap.max each).
    /// CPU is compared as millicores, so 50000/100000 matches 5000/10000.
    /// </remarks>
    public IReadOnlyList<LimitMismatch> CompareTo(CgroupLimits wanted, out IReadOnlyList<LimitKind> notChecked)
    {
        ArgumentNullException.ThrowIfNull(wanted);
        if (wanted.CpuQuotaMicros is not null && wanted.CpuPeriodMicros <= 0)
            ThrowHelper.ThrowArgument(nameof(wanted), "a CPU quota needs a positive CPU period");

        long page = Environment.SystemPageSize;
        var mismatches = new List<LimitMismatch>();
        var skipped = new List<LimitKind>();

        if (!BytesMatch(wanted.MemoryBytes, MemoryBytes, page))
            mismatches.Add(Mismatch(LimitKind.Memory, wanted.MemoryBytes, MemoryBytes, "memory limit", "bytes"));

        if (!SwapAccounting)
        {
            if (wanted.MemoryAndSwapBytes is not null)
                skipped.Add(LimitKind.MemoryAndSwap);
        }
        else if (!BytesMatch(wanted.MemoryAndSwapBytes, MemoryAndSwapBytes, 2 * page))
        {
            mismatches.Add(Mismatch(LimitKind.MemoryAndSwap, wanted.MemoryAndSwapBytes, MemoryAndSwapBytes, "memory+swap limit", "bytes"));
        }

        if (wanted.CpuMillicores != CpuMillicores)
            mismatches.Add(Mismatch(LimitKind.Cpu, wanted.CpuMillicores, CpuMillicores, "CPU quota", "millicores"));

        if (wanted.Pids != Pids)
            mismatches.Add(Mismatch(LimitKind.Pids, wanted.Pids, Pids, "process limit", "pids"));

        notChecked = skipped;
        return mismatches;
    }

    private static bool BytesMatch(long? wanted, long? actual, long slack) =>
        (wanted, actual) switch
        {
            (null, null) => true,
            ({ } w, { } a) => a <= w && w - a < slack,
            _ => false,
        };

    private static LimitMismatch Mismatch(LimitKind kind, long? wanted, long? actual, string what, string unit) =>
        new(kind, wanted, actual, $"{what} in force is {Describe(actual, unit)}, but {Describe(wanted, unit)} was asked");

    private static string Describe(long? value, string unit) =>
        value is { } v ? v.ToString(CultureInfo.InvariantCulture) + " " + unit : "unlimited";
}

/// <summary>Which limit a <see cref="LimitMismatch"/> is about.</summary>
public enum LimitKind
{
    /// <summary>Memory in bytes (v1 memory.limit_in_bytes, v2 memory.max).</summary>
    Memory,

    /// <summary>Memory plus swap in bytes (v1 memory.memsw.limit_in_bytes, v2 memory.max + memory.swap.max).</summary>
    MemoryAndSwap,

    /// <summary>CPU quota over period, in millicores.</summary>
    Cpu,

    /// <summary>Number of processes and threads (pids.max).</summary>
    Pids,
}

/// <summary>
/// One limit not in force as asked: the values are bytes, millicores or pids as <see cref="Kind"/> says, null
/// meaning unlimited; <see cref="Message"/> is one line for logs and the refusal.
/// </summary>
public sealed record LimitMismatch(LimitKind Kind, long? Wanted, long? Actual, string Message);
