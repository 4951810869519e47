using InfraMind.Node.Crypto;
using InfraMind.Node.Crypto.Eip712;

namespace InfraMind.Node.Jobs.Intake;

/// <summary>A job that passed every check of CONTRACT.md §3 that needs no model: its signer, node, deadline and id.</summary>
public sealed record VerifiedJob(JobRequest Request, Hash32 JobHash, DateTimeOffset ReceivedAt);

/// <summary>
/// The signature, trust, node, deadline and replay checks, in that order, so that the cheapest true
/// reason is reported and a forged job never learns more than "bad signature".
/// </summary>
public sealed class JobVerifier(Eip712Domain domain, Address self, IReadOnlyCollection<Address> trustedSchedulers, ReplayGuard replay, TimeProvider time)
{
    public Address Node => self;

    public Eip712Domain Domain => domain;

    /// <summary>The EIP-712 digest of the job struct: the jobHash of receipts and rejections.</summary>
    public Hash32 JobHash(JobRequest job) => domain.Digest(job.ToStruct());

    /// <summary>Checks the job and reserves its id; throws <see cref="JobRejectedException"/> with the reason otherwise.</summary>
    public VerifiedJob Verify(JobRequest job, out Hash32 jobHash)
    {
        jobHash = JobHash(job);
        if (!EthSignature.TryRecover(jobHash, job.Signature, out Address signer, out SignatureError error))
            throw new JobRejectedException(RejectReason.BadSignature, $"the job's signature does not verify ({error})");
        if (signer != job.Scheduler)
            throw new JobRejectedException(RejectReason.BadSignature, $"the job's signature was made by {signer}, not by the scheduler {job.Scheduler} it names");
        if (!trustedSchedulers.Contains(job.Scheduler))
            throw new JobRejectedException(RejectReason.UntrustedSigner, $"scheduler {job.Scheduler} is not in mesh.trusted_schedulers");
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
}
