using InfraMind.Node.Crypto;
using InfraMind.Node.Crypto.Eip712;
using NBitcoin.Secp256k1;

namespace InfraMind.Node.Jobs.Intake;

/// <summary>A job that passed every check of CONTRACT.md §3 that needs no model: its signer, node, deadline and id.</summary>
public sealed record VerifiedJob(JobRequest Request, Hash32 JobHash, DateTimeOffset ReceivedAt);

/// <summary>
/// The signature, trust, node, deadline and replay checks, in that order, so that the cheapest true
/// reason is reported and a forged job never learns more than "bad signature".
/// </summary>
/// <remarks>
/// A trusted scheduler's signature is checked against its public key once a recovery has shown that key
/// (<see cref="KnownSigners"/>, about half the time of a recovery); anything that check does not accept goes through the
/// recovery as before, which gives the reason, the real signer, and the key to learn.
/// </remarks>
public sealed class JobVerifier(Eip712Domain domain, Address self, IReadOnlyCollection<Address> trustedSchedulers, ReplayGuard replay, TimeProvider time, KnownSigners knownSigners)
{
    /// <summary>A verifier that learns the keys of <paramref name="trustedSchedulers"/> from their first jobs.</summary>
    public JobVerifier(Eip712Domain domain, Address self, IReadOnlyCollection<Address> trustedSchedulers, ReplayGuard replay, TimeProvider time)
        : this(domain, self, trustedSchedulers, replay, time, new KnownSigners(trustedSchedulers))
    {
    }

    public Address Node => self;

    public Eip712Domain Domain => domain;

    /// <summary>The schedulers whose signatures are checked without recovery once their keys are learnt.</summary>
    public KnownSigners KnownSigners => knownSigners;

    /// <summary>The EIP-712 digest of the job struct: the jobHash of receipts and rejections.</summary>
    public Hash32 JobHash(JobRequest job) => domain.Digest(job.ToStruct());

    /// <summary>Checks the job and reserves its id; throws <see cref="JobRejectedException"/> with the reason otherwise.</summary>
    public VerifiedJob Verify(JobRequest job, out Hash32 jobHash)
    {
        jobHash = JobHash(job);
        ECPubKey? recovered = knownSigners.TryVerify(jobHash, job.Signature, job.Scheduler) ? null : RecoverScheduler(job, jobHash);
        if (!trustedSchedulers.Contains(job.Scheduler))
            throw new JobRejectedException(RejectReason.UntrustedSigner, $"scheduler {job.Scheduler} is not in mesh.trusted_schedulers");
        if (recovered is not null)
            knownSigners.Learn(job.Scheduler, recovered);
        if (job.Node != self)
            throw new JobRejectedException(RejectReason.WrongNode, $"the job is for node {job.Node}, this node is {self}");
        DateTimeOffset now = time.GetUtcNow();
        if (job.Deadline <= (ulong)now.ToUnixTimeSeconds())
            throw new JobRejectedException(RejectReason.DeadlinePassed, $"the job's deadline {job.Deadline} has passed (now {now.ToUnixTimeSeconds()})");
        if (!replay.TryReserve(job.JobId, job.Deadline, out bool full))
        {
            throw full
                ? new JobRejectedException(RejectReason.QueueFull, "this node is remembering too many unexpired job ids; try again later")
                : new JobRejectedException(RejectReason.DuplicateJob, $"job {job.JobId} was already received");
        }

        return new VerifiedJob(job, jobHash, now);
    }

    /// <summary>The public key that signed the job, which must be the scheduler it names; throws otherwise.</summary>
    private static ECPubKey RecoverScheduler(JobRequest job, Hash32 jobHash)
    {
        if (!EthSignature.TryRecover(jobHash, job.Signature, out Address signer, out ECPubKey? publicKey, out SignatureError error))
            throw new JobRejectedException(RejectReason.BadSignature, $"the job's signature does not verify ({error})");
        if (signer != job.Scheduler)
            throw new JobRejectedException(RejectReason.BadSignature, $"the job's signature was made by {signer}, not by the scheduler {job.Scheduler} it names");
        return publicKey;
    }
}
