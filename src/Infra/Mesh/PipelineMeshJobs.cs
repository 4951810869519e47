using InfraMind.Node.Jobs;
using InfraMind.Node.Jobs.Intake;
using InfraMind.Node.Receipts;

namespace InfraMind.Node.Mesh;

/// <summary>Puts the <see cref="JobPipeline"/> behind <see cref="IMeshJobs"/>.</summary>
public sealed class PipelineMeshJobs : IMeshJobs, IDisposable
{
    // The pipeline logs a trusted scheduler's rejection and raises Logged inside Submit, on the submitting thread,
    // before it throws; that rejection already goes back as Submit's answer, so it is not raised twice.
    [ThreadStatic]
    private static bool t_submitting;

    private readonly JobPipeline _pipeline;

    public PipelineMeshJobs(JobPipeline pipeline)
    {
        _pipeline = pipeline;
        _pipeline.Logged += OnLogged;
    }

    public event Action<MeshLogged>? Logged;

    public MeshSubmission Submit(JobRequest job)
    {
        t_submitting = true;
        try
        {
            _pipeline.Submit(job);
            return MeshSubmission.Accept();
        }
        catch (JobRejectedException e)
        {
            // The pipeline signs every rejection it throws; its own JSON round-trips through the strict reader.
            if (e.RejectionJson is null || !SignedRejection.TryParseOwn(e.RejectionJson, out SignedRejection? rejection))
                throw;
            return MeshSubmission.Reject(rejection!);
        }
        finally
        {
            t_submitting = false;
        }
    }

    public bool Cancel(string jobId) => _pipeline.Cancel(jobId);

    public void Dispose() => _pipeline.Logged -= OnLogged;

    private void OnLogged(byte[] json, string jobId)
    {
        // Receipts are only ever logged after Submit returned (the job runs on its own task).
        if (t_submitting)
            return;
        // The pipeline's own JSON, just logged: read as it is, not again from the log (a lookup and a file read a job).
        if (SignedReceipt.TryParseOwn(json, out SignedReceipt? receipt))
        {
            Logged?.Invoke(new MeshLogged(jobId, receipt, null));
            return;
        }

        if (SignedRejection.TryParseOwn(json, out SignedRejection? rejection))
            Logged?.Invoke(new MeshLogged(jobId, null, rejection));
    }
}
