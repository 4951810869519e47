using Google.Protobuf;
using InfraMind.Node.Crypto;
using InfraMind.Node.Crypto.Eip712;
using InfraMind.Node.Hardware;
using InfraMind.Node.Jobs.Intake;
using InfraMind.Node.Receipts;
using Wire = InfraMind.Node.Protos.Mesh;

namespace InfraMind.Node.Mesh;

/// <summary>Why a job from the stream could not be turned into a <see cref="JobRequest"/>.</summary>
public enum MeshJobProblem
{
    None,
    BadJobId,
    BadAddress,
    BadSignatureLength,
    MissingSchema,
    FieldTooLong,
}

/// <summary>
/// The mesh messages as pure functions: protobuf ⇄ the node's own types, the signed hello. No connection state here
/// (that is <see cref="MeshLink"/>), so each conversion is tested on its own with hostile input.
/// </summary>
public static class MeshProtocol
{
    /// <summary>Largest job input accepted from the stream; the gRPC message limit (4 MiB) bounds it first.</summary>
    public const int MaxInputBytes = 4 << 20;

    /// <summary>keccak256 of the deterministic protobuf encoding of <paramref name="capabilities"/> (see mesh.proto).</summary>
    public static Hash32 CapabilitiesHash(Wire.Capabilities capabilities) => Keccak256.Hash(capabilities.ToByteArray());

    /// <summary>A signed hello: EIP-712 Hello(node, region, version, capabilitiesHash, timestamp).</summary>
    public static Wire.Hello CreateHello(NodeKey key, Eip712Domain domain, string region, string version, Wire.Capabilities capabilities, ulong timestamp)
    {
        Hash32 digest = domain.Digest(new HelloStruct(key.Address, region, version, CapabilitiesHash(capabilities), timestamp));
        byte[] signature = new byte[EthSignature.Size];
        key.Sign(digest, signature);
        return new Wire.Hello
        {
            Node = key.Address.ToString(),
            PublicKey = ByteString.CopyFrom(key.CompressedPublicKey),
            Region = region,
            Version = version,
            Capabilities = capabilities,
            Timestamp = timestamp,
            Signature = ByteString.CopyFrom(signature),
        };
    }

    /// <summary>The capabilities the node announces: what one job can be given, its GPUs, the engine, the cache room.</summary>
    public static Wire.Capabilities Capabilities(HostCapacity capacity, string engineName, string engineVersion, long cacheBytesFree)
    {
        var capabilities = new Wire.Capabilities
        {
            CpuMillicores = (ulong)Math.Max(0, capacity.JobCpuMillicores),
            MemoryBytes = (ulong)Math.Max(0, capacity.JobMemoryBytes),
            EngineName = engineName,
            EngineVersion = engineVersion,
            CacheBytesFree = (ulong)Math.Max(0, cacheBytesFree),
        };
        foreach (var gpu in capacity.Gpus.Gpus)
        {
            capabilities.Gpus.Add(new Wire.Gpu
            {
                Name = gpu.Name,
                Uuid = gpu.Uuid,
                MemoryBytes = (ulong)Math.Max(0, gpu.MemoryTotal),
                Driver = capacity.Gpus.DriverVersion ?? "",
                ComputeCapability = gpu.ComputeCapability?.ToString() ?? "",
            });
        }

        return capabilities;
    }

    /// <summary>
    /// The job as the pipeline takes it. Only the shape is checked here (ids, addresses, lengths); the signature,
    /// trust, node, deadline and replay checks are the pipeline's, so both intake paths answer alike.
    /// </summary>
    public static bool TryToJobRequest(Wire.Job job, out JobRequest? request, out MeshJobProblem problem)
    {
        request = null;
        problem = Check(job);
        if (problem != MeshJobProblem.None || !Address.TryParse(job.Node, out Address node) || !Address.TryParse(job.Scheduler, out Address scheduler))
            return false;
        request = new JobRequest(job.JobId, job.ModelHash, job.ContainerUri, job.Entrypoint, job.ExpectedSchema.Input, job.ExpectedSchema.Output,
            job.Input, job.Deadline, node, scheduler, job.Signature.ToByteArray());
        return true;
    }

    private static MeshJobProblem Check(Wire.Job job)
    {
        if (!JobRequest.IsValidJobId(job.JobId))
            return MeshJobProblem.BadJobId;
        if (job.ExpectedSchema is null || job.ExpectedSchema.Input.Length == 0 || job.ExpectedSchema.Output.Length == 0)
            return MeshJobProblem.MissingSchema;
        if (job.ModelHash.Length > JobRequest.MaxModelHashLength || job.ContainerUri.Length > JobRequest.MaxUriLength
            || job.Entrypoint.Length > JobRequest.MaxEntrypointLength || job.ExpectedSchema.Input.Length > JobRequest.MaxSchemaBytes
            || job.ExpectedSchema.Output.Length > JobRequest.MaxSchemaBytes || job.Input.Length > MaxInputBytes)
            return MeshJobProblem.FieldTooLong;
        if (!Address.TryParse(job.Node, out _) || !Address.TryParse(job.Scheduler, out _))
            return MeshJobProblem.BadAddress;
        if (job.Signature.Length != EthSignature.Size)
            return MeshJobProblem.BadSignatureLength;
        return MeshJobProblem.None;
    }

    /// <summary>The reason code a shape problem is rejected with (CONTRACT.md §4's codes).</summary>
    public static RejectReason Reason(MeshJobProblem problem) => problem switch
    {
        MeshJobProblem.FieldTooLong => RejectReason.TooLarge,
        MeshJobProblem.BadSignatureLength => RejectReason.BadSignature,
        _ => RejectReason.Malformed,
    };

    /// <summary>
    /// jobHash of a job that may be malformed: the EIP-712 digest over whatever fields it has (a missing schema is
    /// empty, an unreadable node address zero), so even a refusal of junk names the job it refuses.
    /// </summary>
    public static Hash32 BestEffortJobHash(Wire.Job job, Eip712Domain domain)
    {
        Address node = Address.TryParse(job.Node, out Address parsed) ? parsed : default;
        return domain.Digest(new JobStruct(job.JobId, job.ModelHash, job.ContainerUri, job.Entrypoint,
            job.ExpectedSchema?.Input ?? "", job.ExpectedSchema?.Output ?? "", Keccak256.Hash(System.Text.Encoding.UTF8.GetBytes(job.Input)), job.Deadline, node));
    }

    public static Wire.Receipt ToMessage(SignedReceipt receipt)
    {
        Receipt r = receipt.Receipt;
        return new Wire.Receipt
        {
            JobId = r.JobId,
            JobHash = r.JobHash.ToString(),
            ModelRef = r.ModelRef,
            ImageDigest = r.ImageDigest.ToString(),
            OutputHash = r.OutputHash.ToString(),
            Status = r.Status,
            LatencyMs = r.LatencyMs,
            StartedAt = r.StartedAt,
            FinishedAt = r.FinishedAt,
            CpuMs = r.CpuMs,
            PeakMemoryBytes = r.PeakMemoryBytes,
            Node = r.Node.ToString(),
            Timestamp = r.Timestamp,
            Signature = ByteString.CopyFrom(receipt.Signature),
        };
    }

    public static Wire.Rejection ToMessage(SignedRejection rejection) => new()
    {
        JobId = rejection.Rejection.JobId,
        JobHash = rejection.Rejection.JobHash.ToString(),
        Reason = rejection.Rejection.Reason,
        Timestamp = rejection.Rejection.Timestamp,
        Signature = ByteString.CopyFrom(rejection.Signature),
    };

    /// <summary>The welcome's heartbeat interval, clamped to 1000–5000 ms (0, i.e. unset, reads as 1000).</summary>
    public static TimeSpan HeartbeatInterval(Wire.Welcome welcome) =>
        TimeSpan.FromMilliseconds(Math.Clamp(welcome.HeartbeatIntervalMs, (uint)MeshOptions.MinHeartbeatMs, (uint)MeshOptions.MaxHeartbeatMs));

    /// <summary>Full-jitter exponential backoff: uniform(0, min(max, initial·2^attempt)), with <paramref name="unit"/> in [0, 1).</summary>
    public static TimeSpan Backoff(int attempt, TimeSpan initial, TimeSpan max, double unit)
    {
        double ceiling = Math.Min(max.TotalMilliseconds, initial.TotalMilliseconds * Math.Pow(2, Math.Clamp(attempt, 0, 30)));
        return TimeSpan.FromMilliseconds(ceiling * Math.Clamp(unit, 0, 1));
    }
}
