using InfraMind.Node.Crypto;
using InfraMind.Node.Jobs;
using InfraMind.Node.Jobs.Intake;

namespace InfraMind.Node.Tests.Jobs;

/// <summary>The board's history of finished jobs stays bounded in count and in the bytes of the outputs it holds.</summary>
public class JobBoardTests
{
    private static JobRecord Finish(JobBoard board, string jobId, int outputBytes)
    {
        var request = new JobRequest(jobId, "model", "ipfs://model", "serve", "text", "text", "in", 1_900_000_000, default, default, []);
        JobRecord record = board.Add(new VerifiedJob(request, default(Hash32), DateTimeOffset.UnixEpoch));
        record.Finish(JobState.Succeeded, "{}"u8.ToArray(), null, output: outputBytes > 0 ? new byte[outputBytes] : null);
        return record;
    }

    [Fact]
    public void Finished_outputs_are_let_go_oldest_first_beyond_the_byte_budget()
    {
        var board = new JobBoard(TimeProvider.System, historyLimit: 100, outputHistoryBytes: 10_000);
        JobRecord[] jobs = [.. Enumerable.Range(0, 5).Select(i => Finish(board, $"j{i}", 3_000))];

        // 3 × 3,000 fit in 10,000; the fourth and fifth push the oldest two out. The records, state and receipt, stay.
        Assert.Equal(new[] { true, true, false, false, false }, jobs.Select(j => j.OutputReleased));
        Assert.Equal(new int?[] { null, null, 3_000, 3_000, 3_000 }, jobs.Select(j => j.Output?.Length));
        Assert.All(jobs, j => Assert.True(board.TryGet(j.JobId, out _)));
        Assert.All(jobs, j => Assert.NotNull(j.ReceiptJson));
    }

    [Fact]
    public void The_newest_output_stays_even_when_it_alone_is_over_the_budget()
    {
        var board = new JobBoard(TimeProvider.System, historyLimit: 100, outputHistoryBytes: 1_000);
        JobRecord small = Finish(board, "small", 500);
        JobRecord big = Finish(board, "big", 5_000);
        Assert.True(small.OutputReleased);
        Assert.Equal(5_000, big.Output?.Length);

        JobRecord next = Finish(board, "next", 10);
        Assert.True(big.OutputReleased);
        Assert.Equal(10, next.Output?.Length);
    }

    [Fact]
    public void A_job_leaving_the_history_takes_its_output_out_of_the_budget()
    {
        var board = new JobBoard(TimeProvider.System, historyLimit: 2, outputHistoryBytes: 10_000);
        JobRecord first = Finish(board, "a", 4_000);
        Finish(board, "b", 4_000);
        Finish(board, "c", 4_000); // a leaves the history: its 4,000 bytes no longer count
        Assert.False(board.TryGet("a", out _));
        Assert.True(first.OutputReleased);

        // Were a's bytes still counted (12,000 > 10,000), b would be let go here.
        Assert.True(board.TryGet("b", out JobRecord? b));
        Assert.False(b!.OutputReleased);
        Finish(board, "d", 0);
        Assert.False(board.TryGet("b", out _));
        Assert.True(board.TryGet("c", out JobRecord? c) && c!.Output?.Length == 4_000);
    }

    [Fact]
    public void The_default_budget_keeps_the_latest_two_outputs_at_the_runners_cap()
    {
        var board = new JobBoard(TimeProvider.System);
        JobRecord[] jobs = [.. Enumerable.Range(0, 3).Select(i => Finish(board, $"big{i}", 16 << 20))];
        Assert.Equal(new[] { true, false, false }, jobs.Select(j => j.OutputReleased));
    }
}
