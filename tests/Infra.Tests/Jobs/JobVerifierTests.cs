using InfraMind.Node.Crypto;
using InfraMind.Node.Jobs.Intake;
using InfraMind.Node.Receipts;
using InfraMind.Node.Tests.Receipts;
using InfraMind.Node.Tests.Support;
using NBitcoin.Secp256k1;

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

    [Fact]
    public void After_a_restart_jobs_with_a_logged_receipt_are_duplicates_and_take_no_room_in_the_guard()
    {
        // More receipts in the log than the guard has room for: seeding the guard from them (as before) left it full,
        // refusing every new job after a restart.
        using var folder = new TempFolder();
        ReceiptSigner signer = ReceiptSamples.Signer();
        using ReceiptLog log = ReceiptLog.Open(folder.Path);
        for (int i = 0; i < 5; i++)
            log.Append(signer.Sign(ReceiptSamples.Receipt($"done{i}")));

        var replay = new ReplayGuard(_clock, capacity: 3, logged: log.HasReceipt);
        JobVerifier verifier = Verifier(replay);
        for (int i = 0; i < 5; i++)
        {
            JobRejectedException e = Assert.Throws<JobRejectedException>(() => verifier.Verify(_trusted.Job(_self, jobId: $"done{i}", deadline: InFive), out _));
            Assert.Equal(RejectReason.DuplicateJob, e.Reason);
        }

        Assert.Equal(0, replay.Count);
        for (int i = 0; i < 3; i++)
            verifier.Verify(_trusted.Job(_self, jobId: $"new{i}", deadline: InFive), out _);
        Assert.Equal(3, replay.Count);
    }

    [Fact]
    public void A_settled_job_leaves_the_guard_only_when_the_log_refuses_its_replays()
    {
        using var folder = new TempFolder();
        using ReceiptLog log = ReceiptLog.Open(folder.Path);
        var replay = new ReplayGuard(_clock, logged: log.HasReceipt);
        JobVerifier verifier = Verifier(replay);
        JobRequest job = _trusted.Job(_self, jobId: "settled", deadline: InFive);
        verifier.Verify(job, out _);
        log.Append(ReceiptSamples.Signer().Sign(ReceiptSamples.Receipt("settled")));
        replay.Settled("settled");
        Assert.Equal(0, replay.Count);
        Assert.Equal(RejectReason.DuplicateJob, Assert.Throws<JobRejectedException>(() => verifier.Verify(job, out _)).Reason);

        // A guard with no log to ask keeps the id until its deadline.
        var alone = new ReplayGuard(_clock);
        Assert.True(alone.TryReserve("kept", InFive, out _));
        alone.Settled("kept");
        Assert.False(alone.TryReserve("kept", InFive, out _));
    }

    [Fact]
    public async Task Once_the_schedulers_key_is_learnt_good_jobs_skip_recovery_and_bad_ones_get_the_same_reason_and_message()
    {
        JobVerifier learning = Verifier();
        learning.Verify(_trusted.Job(_self, jobId: "first", deadline: InFive), out _);
        await learning.KnownSigners.WhenBuilt(_trusted.Scheduler);
        Assert.True(learning.KnownSigners.IsLearnt(_trusted.Scheduler));

        JobRequest good = _trusted.Job(_self, jobId: "second", deadline: InFive);
        Hash32 goodHash = learning.JobHash(good);
        Assert.True(learning.KnownSigners.TryVerify(goodHash, good.Signature, good.Scheduler));
        learning.Verify(good, out _);

        // A verifier whose key table is never built checks every job by recovery, as before.
        var recovering = new JobVerifier(_trusted.Domain, _self, [_trusted.Scheduler], new ReplayGuard(_clock), _clock,
            new KnownSigners([_trusted.Scheduler], new HeldTaskScheduler()));
        int compared = 0;
        foreach ((string what, JobRequest job) in BadJobs(good))
        {
            JobRejectedException expected = Assert.Throws<JobRejectedException>(() => recovering.Verify(job, out _));
            JobRejectedException actual = Assert.Throws<JobRejectedException>(() => learning.Verify(job, out _));
            Assert.True(expected.Reason == actual.Reason && expected.Message == actual.Message, $"{what}: {expected.Message} / {actual.Message}");
            compared++;
        }

        Assert.Equal(14, compared);
        Assert.False(recovering.KnownSigners.IsLearnt(_trusted.Scheduler));
    }

    [Fact]
    public void An_untrusted_schedulers_key_is_not_learnt()
    {
        JobVerifier verifier = Verifier();
        Assert.Equal(RejectReason.UntrustedSigner, Reason(verifier, _stranger.Job(_self, deadline: InFive)));
        Assert.True(verifier.KnownSigners.WhenBuilt(_stranger.Scheduler).IsCompleted);
        Assert.False(verifier.KnownSigners.IsLearnt(_stranger.Scheduler));
    }

    /// <summary>Jobs refused at each step, most of them forged or altered copies of <paramref name="good"/>.</summary>
    private IEnumerable<(string What, JobRequest Job)> BadJobs(JobRequest good)
    {
        JobRequest Altered(Action<byte[]> change)
        {
            byte[] signature = (byte[])good.Signature.Clone();
            change(signature);
            return good with { Signature = signature };
        }

        yield return ("r changed", Altered(s => s[10] ^= 1));
        yield return ("s changed", Altered(s => s[40] ^= 1));
        yield return ("v flipped", Altered(s => s[64] ^= 27 ^ 28));
        yield return ("high-s twin", Altered(s =>
        {
            s[64] ^= 27 ^ 28;
            new Scalar(s.AsSpan(32, 32)).Negate().WriteToSpan(s.AsSpan(32, 32));
        }));
        yield return ("r zero", Altered(s => s.AsSpan(0, 32).Clear()));
        yield return ("64 bytes", good with { Signature = good.Signature[..64] });
        yield return ("no signature", good with { Signature = [] });
        yield return ("input tampered", good with { Input = "tampered" });
        yield return ("signed for another chain", _otherChain.Job(_self, jobId: "second", deadline: InFive));
        yield return ("names another scheduler", good with { Scheduler = _stranger.Scheduler });
        yield return ("a stranger's job naming the trusted scheduler", _stranger.Job(_self, jobId: "second", deadline: InFive) with { Scheduler = _trusted.Scheduler });
        yield return ("a stranger's own job", _stranger.Job(_self, jobId: "second", deadline: InFive));
        yield return ("for another node", _trusted.Job(_trusted.Scheduler, jobId: "elsewhere", deadline: InFive));
        yield return ("past its deadline", _trusted.Job(_self, jobId: "late", deadline: (ulong)_clock.GetUtcNow().ToUnixTimeSeconds()));
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
