using InfraMind.Node.Crypto;
using InfraMind.Node.Crypto.Eip712;
using InfraMind.Node.Jobs.Intake;
using InfraMind.Node.Mesh;
using InfraMind.Node.Receipts;
using InfraMind.Node.Tests.Receipts;

namespace InfraMind.Node.Tests.Mesh;

/// <summary>
/// The pipeline's intake without the containers: the real <see cref="JobVerifier"/> (signature, trust, node, deadline,
/// replay) and signed rejections, accepting instantly; <see cref="Finish"/> logs a signed receipt as a finished job would.
/// </summary>
public sealed class FakeMeshJobs(NodeKey key, Address scheduler, ReceiptLog log) : IMeshJobs
{
    private readonly JobVerifier _verifier = new(new Eip712Domain(ReceiptSamples.ChainId), key.Address, [scheduler], new ReplayGuard(TimeProvider.System), TimeProvider.System);
    private readonly ReceiptSigner _signer = new(key, ReceiptSamples.ChainId);

    public event Action<MeshLogged>? Logged;

    public List<string> Accepted { get; } = [];

    public List<string> Cancelled { get; } = [];

    public MeshSubmission Submit(JobRequest job)
    {
        try
        {
            _verifier.Verify(job, out _);
            lock (Accepted)
                Accepted.Add(job.JobId);
            return MeshSubmission.Accept();
        }
        catch (JobRejectedException e)
        {
            var rejection = new Rejection(job.JobId, _verifier.JobHash(job), e.Reason.Code(), default, (ulong)DateTimeOffset.UtcNow.ToUnixTimeSeconds());
            return MeshSubmission.Reject(_signer.Sign(rejection));
        }
    }

    public bool Cancel(string jobId)
    {
        lock (Cancelled)
            Cancelled.Add(jobId);
        return true;
    }

    public SignedReceipt Finish(string jobId)
    {
        SignedReceipt signed = _signer.Sign(ReceiptSamples.Receipt(jobId, (ulong)DateTimeOffset.UtcNow.ToUnixTimeSeconds()));
        log.Append(signed);
        Logged?.Invoke(new MeshLogged(jobId, signed, null));
        return signed;
    }
}
