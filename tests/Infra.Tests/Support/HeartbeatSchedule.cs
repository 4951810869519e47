namespace InfraMind.Node.Tests.Support;

/// <summary>Judges heartbeats seen by the reference scheduler against the interval the welcome set.</summary>
internal static class HeartbeatSchedule
{
    /// <summary>
    /// Asserts the schedule: the median gap within 10 % of the interval, and no gap of two intervals or more (a missed
    /// beat). The median, not the mean: a tick the loaded test host runs late skews the mean of a few gaps when it is
    /// the last one, and the schedule the timer keeps is what is under test. Returns the gaps for the test's log.
    /// </summary>
    public static double[] AssertKept(long[] atMs, uint intervalMs)
    {
        double[] gaps = atMs.Zip(atMs.Skip(1), (a, b) => (double)(b - a)).ToArray();
        Assert.NotEmpty(gaps);
        Assert.InRange(gaps.Order().ElementAt(gaps.Length / 2), intervalMs * 0.9, intervalMs * 1.1);
        // The timer keeps a fixed schedule, so one late tick is followed by a short one; a missed beat is the failure.
        Assert.All(gaps, g => Assert.InRange(g, 0, intervalMs * 2.0));
        return gaps;
    }
}
