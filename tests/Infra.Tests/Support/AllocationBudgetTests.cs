namespace InfraMind.Node.Tests.Support;

public class AllocationBudgetTests
{
    [Fact]
    public void Work_that_allocates_every_round_is_counted_in_every_window()
    {
        object? last = null;
        long fewest = AllocationBudget.Fewest(100, () => last = new byte[100]);
        GC.KeepAlive(last);
        Assert.True(fewest >= 100 * 100, $"{fewest} bytes counted for 100 arrays of 100 bytes");
    }

    [Fact]
    public void Work_that_allocates_in_one_window_only_counts_as_nothing()
    {
        int calls = 0;
        object? last = null;
        long fewest = AllocationBudget.Fewest(10, () =>
        {
            if (calls++ == 3) // the first window only, as a one-off of the runtime would
                last = new byte[4096];
        });
        GC.KeepAlive(last);
        Assert.Equal(0, fewest);
    }
}
