using InfraMind.Node.Jobs;

namespace InfraMind.Node.Tests.Jobs;

/// <summary>The per-model prepare lock: one holder per key, keys independent, and no entry left behind.</summary>
public class KeyedLockTests
{
    [Fact]
    public async Task The_same_key_waits_for_its_holder_and_another_key_does_not()
    {
        var locks = new KeyedLock();
        KeyedLock.Holder first = await locks.AcquireAsync("model-a", CancellationToken.None);

        ValueTask<KeyedLock.Holder> second = locks.AcquireAsync("model-a", CancellationToken.None);
        Assert.False(second.IsCompleted);
        using (await locks.AcquireAsync("model-b", CancellationToken.None))
            Assert.Equal(2, locks.ActiveKeys);

        first.Dispose();
        using (await second.AsTask().WaitAsync(TimeSpan.FromSeconds(10)))
            Assert.Equal(1, locks.ActiveKeys);
        Assert.Equal(0, locks.ActiveKeys);
    }

    [Fact]
    public async Task A_waiter_that_gives_up_leaves_nothing_and_the_key_is_still_usable()
    {
        var locks = new KeyedLock();
        KeyedLock.Holder holder = await locks.AcquireAsync("model-a", CancellationToken.None);
        using var cancel = new CancellationTokenSource();
        ValueTask<KeyedLock.Holder> waiter = locks.AcquireAsync("model-a", cancel.Token);
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiter.AsTask());
        Assert.Equal(1, locks.ActiveKeys);

        holder.Dispose();
        Assert.Equal(0, locks.ActiveKeys);
        using (await locks.AcquireAsync("model-a", CancellationToken.None).AsTask().WaitAsync(TimeSpan.FromSeconds(10)))
            Assert.Equal(1, locks.ActiveKeys);
    }

    [Fact]
    public async Task Many_keys_and_contenders_end_with_no_entries_and_never_two_holders_of_a_key()
    {
        var locks = new KeyedLock();
        int[] holders = new int[50];
        int overlaps = 0;
        await Task.WhenAll(Enumerable.Range(0, 2000).Select(i => Task.Run(async () =>
        {
            int key = i % holders.Length;
            using (await locks.AcquireAsync($"model-{key}", CancellationToken.None))
            {
                if (Interlocked.Increment(ref holders[key]) != 1)
                    Interlocked.Increment(ref overlaps);
                await Task.Yield();
                Interlocked.Decrement(ref holders[key]);
            }
        })));
        Assert.Equal(0, overlaps);
        Assert.Equal(0, locks.ActiveKeys);
    }
}
