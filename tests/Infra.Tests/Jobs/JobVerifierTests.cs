using InfraMind.Node.Crypto;
using InfraMind.Node.Jobs.Intake;
using InfraMind.Node.Tests.Support;

namespace InfraMind.Node.Tests.Jobs;

public sealed class JobVerifierTests : IDisposable
{
    private readonly SignedJobs _trusted = new(seed: 1);
    private readonly SignedJobs _stranger = new(seed: 2);
    private readonly SignedJobs _otherChain = new(chainId: 1, seed: 1);
    private readonly Address _self = Address.FromPublicKey(Enumerable.Repeat((byte)4, 65).ToArray());
    private readonly ManualClock _clock = new(DateTimeOffset.FromUnixTimeSeconds(1_800_000_000));

    private JobVerifier Verifier(ReplayGuard? replay = null) =>
        new(_trusted.Domain, _self, [_trusted.Scheduler], replay ?? new ReplayGuard(_clock), _clock);

    private ulong InFive => (ulong)_clock.GetUtcNow().AddMinutes(5).ToUnixTimeSeconds();

    [Fact]
    public void A_good_job_is_verified_and_its_hash_is_the_eip712_digest()
    {
        JobRequest job = _trusted.Job(_self, deadline: InFive);
        VerifiedJob verified = Verifier().Verify(job, out Hash32 hash);
        Assert.Equal(_trusted.Domain.Digest(job.ToStruct()), hash);
        Assert.Equal(hash, verified.JobHash);
    }

    [Fact]
    public void Each_bad_job_gets_its_own_reason()
    {
        JobVerifier verifier = Verifier();
        JobRequest good = _trusted.Job(_self, deadline: InFive);

        byte[] flipped = (byte[])good.Signature.Clone();
        flipped[10] ^= 1;
        Assert.Equal(RejectReason.BadSignature, Reason(verifier, good with { Signature = flipped }));
        Assert.Equal(RejectReason.BadSignature, Reason(verifier, good with { Input = "tampered" }));
        Assert.Equal(RejectReason.BadSignature, Reason(verifier, _otherChain.Job(_self, deadline: InFive)));
        Assert.Equal(RejectReason.BadSignature, Reason(verifier, good with { Scheduler = _stranger.Scheduler }));
        Assert.Equal(RejectReason.UntrustedSigner, Reason(verifier, _stranger.Job(_self, deadline: InFive)));
        Assert.Equal(RejectReason.WrongNode, Reason(verifier, _trusted.Job(_trusted.Scheduler, deadline: InFive)));
        Assert.Equal(RejectReason.DeadlinePassed, Reason(verifier, _trusted.Job(_self, deadline: (ulong)_clock.GetUtcNow().ToUnixTimeSeconds())));
    }

    [Fact]
    public void A_replayed_id_is_a_duplicate_until_its_deadline_passes()
    {
        JobVerifier verifier = Verifier();
        JobRequest job = _trusted.Job(_self, jobId: "again", deadline: InFive);
        verifier.Verify(job, out _);
        Assert.Equal(RejectReason.DuplicateJob, Reason(verifier, job));
        Assert.Equal(RejectReason.DuplicateJob, Reason(verifier, _trusted.Job(_self, jobId: "again", input: "other", deadline: InFive)));

        _clock.Advance(TimeSpan.FromMinutes(6));
        JobRequest later = _trusted.Job(_self, jobId: "again", deadline: InFive);
        verifier.Verify(later, out _);
    }

    [Fact]
    public void A_released_id_may_come_again()
    {
        var replay = new ReplayGuard(_clock);
        JobVerifier verifier = Verifier(replay);
        JobRequest job = _trusted.Job(_self, jobId: "retry", deadline: InFive);
        verifier.Verify(job, out _);
        replay.Release("retry");
        verifier.Verify(job, out _);
    }

    [Fact]
    public void The_replay_memory_is_bounded()
    {
        var replay = new ReplayGuard(_clock, capacity: 3);
        for (int i = 0; i < 3; i++)
            Assert.True(replay.TryReserve($"j{i}", InFive, out _));
        Assert.False(replay.TryReserve("j3", InFive, out bool full));
        Assert.True(full);
        _clock.Advance(TimeSpan.FromMinutes(10));
        Assert.True(replay.TryReserve("j3", InFive, out _));
        Assert.Equal(1, replay.Count);
    }

    private static RejectReason Reason(JobVerifier verifier, JobRequest job) =>
        Assert.Throws<JobRejectedException>(() => verifier.Verify(job, out _)).Reason;

    public void Dispose()
    {
        _trusted.Dispose();
        _stranger.Dispose();
        _otherChain.Dispose();
    }
}

/// <summary>A clock the test moves by hand.</summary>
public sealed class ManualClock(DateTimeOffset start) : TimeProvider
{
    private DateTimeOffset _now = start;

    public override DateTimeOffset GetUtcNow() => _now;

    public void Advance(TimeSpan by) => _now += by;
}
