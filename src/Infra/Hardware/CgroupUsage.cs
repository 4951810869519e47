namespace InfraMind.Node.Hardware;

/// <summary>
/// What a cgroup has used so far, for the signed receipt: CPU time in microseconds (user plus system), the peak
/// memory the kernel recorded (null when it keeps none: v2 before Linux 5.19) and how many processes the OOM
/// killer ended inside it.
/// </summary>
public sealed record CgroupUsage(long CpuMicros, long? PeakMemoryBytes, long OomKills)
{
    /// <summary>
    /// False when the kernel does not count OOM kills here (v1 before Linux 4.13, or no memory controller in
    /// this v2 cgroup); <see cref="OomKills"/> is then 0 and means "unknown", not "none".
    /// </summary>
    public bool OomKillsCounted { get; init; } = true;
}
