using InfraMind.Node.Jobs.Intake;
using InfraMind.Node.Receipts;

namespace InfraMind.Node.Mesh;

/// <summary>What submitting a job gave: accepted (ack it) or a signed rejection to send back.</summary>
public readonly record struct MeshSubmission(bool Accepted, SignedRejection? Rejection)
{
    public static MeshSubmission Accept() => new(true, null);

    public static MeshSubmission Reject(SignedRejection rejection) => new(false, rejection);
}

/// <summary>A receipt or a (late) rejection that is now in the durable log, ready to deliver.</summary>
public readonly record struct MeshLogged(string JobId, SignedReceipt? Receipt, SignedRejection? Rejection);

/// <summary>
/// The job side of the mesh link: the pipeline in the node (<see cref="PipelineMeshJobs"/>), a small fake in tests.
/// </summary>
public interface IMeshJobs
{
    /// <summary>Checks and accepts a job, or returns the signed rejection. Must be quick: the ack is due within 300 ms.</summary>
    MeshSubmission Submit(JobRequest job);

    /// <summary>Cancels a job; false when it is unknown or already finished.</summary>
    bool Cancel(string jobId);

    /// <summary>
    /// Raised after a receipt, or a rejection of a job that was already accepted, is durably logged. Rejections that
    /// <see cref="Submit"/> returns are not raised again here.
    /// </summary>
    event Action<MeshLogged>? Logged;
}
