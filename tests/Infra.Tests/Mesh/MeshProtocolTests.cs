using Google.Protobuf;
using InfraMind.Node.Crypto;
using InfraMind.Node.Crypto.Eip712;
using InfraMind.Node.Jobs.Intake;
using InfraMind.Node.Mesh;
using InfraMind.Node.Tests.Receipts;
using InfraMind.Node.Tests.Support;
using Wire = InfraMind.Node.Protos.Mesh;

namespace InfraMind.Node.Tests.Mesh;

public class MeshProtocolTests
{
    private static readonly Eip712Domain Domain = new(ReceiptSamples.ChainId);

    private static Wire.Capabilities Caps(ulong cpu = 2000) => new()
    {
        CpuMillicores = cpu,
        MemoryBytes = 1UL << 32,
        EngineName = "podman",
        EngineVersion = "5.0",
        Gpus = { new Wire.Gpu { Name = "H100", Uuid = "GPU-1", MemoryBytes = 80UL << 30, Driver = "550", ComputeCapability = "9.0" } },
    };

    private static Wire.Job WireJob(Address node, string id = "job-1")
    {
        using var scheduler = new SignedJobs();
        JobRequest signed = scheduler.Sign(scheduler.Job(node, id));
        return new Wire.Job
        {
            JobId = signed.JobId, ModelHash = signed.ModelHash, ContainerUri = signed.ContainerUri, Entrypoint = signed.Entrypoint,
            ExpectedSchema = new Wire.ExpectedSchema { Input = signed.InputSchema, Output = signed.OutputSchema },
            Input = signed.Input, Deadline = signed.Deadline, Node = signed.Node.ToString(), Scheduler = signed.Scheduler.ToString(),
            Signature = ByteString.CopyFrom(signed.Signature),
        };
    }

    [Fact]
    public void Hello_signature_recovers_to_the_node_over_the_capabilities_hash()
    {
        using NodeKey key = ReceiptSamples.Key();
        Wire.Hello hello = MeshProtocol.CreateHello(key, Domain, "eu", "0.1.0", Caps(), 1_700_000_000);
        Assert.Equal(33, hello.PublicKey.Length);
        Assert.Equal(key.Address.ToString(), hello.Node);

        // Recompute from the bytes as they would arrive on the wire.
        Wire.Hello received = Wire.Hello.Parser.ParseFrom(hello.ToByteArray());
        Hash32 capabilities = Keccak256.Hash(received.Capabilities.ToByteArray());
        Hash32 digest = Domain.Digest(new HelloStruct(key.Address, "eu", "0.1.0", capabilities, 1_700_000_000));
        Assert.True(EthSignature.Verify(digest, received.Signature.Span, key.Address));

        // A different capability is a different hash, so a tampered hello no longer verifies.
        Assert.NotEqual(MeshProtocol.CapabilitiesHash(Caps(2000)), MeshProtocol.CapabilitiesHash(Caps(2001)));
        Hash32 tampered = Domain.Digest(new HelloStruct(key.Address, "eu", "0.1.0", MeshProtocol.CapabilitiesHash(Caps(9999)), 1_700_000_000));
        Assert.False(EthSignature.Verify(tampered, received.Signature.Span, key.Address));
    }

    [Fact]
    public void A_well_formed_job_converts_to_the_struct_the_scheduler_signed()
    {
        using NodeKey key = ReceiptSamples.Key();
        Wire.Job job = WireJob(key.Address);
        Assert.True(MeshProtocol.TryToJobRequest(job, out JobRequest? request, out MeshJobProblem problem));
        Assert.Equal(MeshJobProblem.None, problem);
        Hash32 digest = Domain.Digest(request!.ToStruct());
        Assert.True(EthSignature.Verify(digest, request.Signature, request.Scheduler));
        Assert.True(digest == MeshProtocol.BestEffortJobHash(job, Domain));
    }

    public static TheoryData<string, MeshJobProblem> Malformed => new()
    {
        { "empty id", MeshJobProblem.BadJobId },
        { "id with a slash", MeshJobProblem.BadJobId },
        { "id too long", MeshJobProblem.BadJobId },
        { "no schema", MeshJobProblem.MissingSchema },
        { "empty output schema", MeshJobProblem.MissingSchema },
        { "bad node", MeshJobProblem.BadAddress },
        { "bad scheduler", MeshJobProblem.BadAddress },
        { "short signature", MeshJobProblem.BadSignatureLength },
        { "huge schema", MeshJobProblem.FieldTooLong },
        { "huge input", MeshJobProblem.FieldTooLong },
        { "huge uri", MeshJobProblem.FieldTooLong },
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public void Malformed_jobs_are_refused_with_a_reason_and_can_still_be_hashed(string what, MeshJobProblem expected)
    {
        using NodeKey key = ReceiptSamples.Key();
        Wire.Job job = WireJob(key.Address);
        switch (what)
        {
            case "empty id": job.JobId = ""; break;
            case "id with a slash": job.JobId = "../etc/passwd"; break;
            case "id too long": job.JobId = new string('a', JobRequest.MaxJobIdLength + 1); break;
            case "no schema": job.ExpectedSchema = null; break;
            case "empty output schema": job.ExpectedSchema.Output = ""; break;
            case "bad node": job.Node = "0x1234"; break;
            case "bad scheduler": job.Scheduler = "not an address\0"; break;
            case "short signature": job.Signature = ByteString.CopyFrom(new byte[64]); break;
            case "huge schema": job.ExpectedSchema.Input = new string('x', JobRequest.MaxSchemaBytes + 1); break;
            case "huge input": job.Input = new string('x', MeshProtocol.MaxInputBytes + 1); break;
            case "huge uri": job.ContainerUri = "http://" + new string('x', JobRequest.MaxUriLength); break;
        }

        Assert.False(MeshProtocol.TryToJobRequest(job, out JobRequest? request, out MeshJobProblem problem));
        Assert.Null(request);
        Assert.Equal(expected, problem);
        _ = MeshProtocol.BestEffortJobHash(job, Domain); // never throws, whatever is missing
    }

    [Fact]
    public void Every_truncation_of_an_encoded_job_either_fails_to_parse_or_converts_safely()
    {
        using NodeKey key = ReceiptSamples.Key();
        byte[] wire = new Wire.SchedulerMessage { Job = WireJob(key.Address) }.ToByteArray();
        int parsed = 0;
        for (int length = 0; length < wire.Length; length++)
        {
            Wire.SchedulerMessage message;
            try
            {
                message = Wire.SchedulerMessage.Parser.ParseFrom(wire.AsSpan(0, length));
            }
            catch (InvalidProtocolBufferException)
            {
                continue;
            }

            parsed++;
            // A prefix that still parses lost trailing fields (the signature is last): it must never convert.
            if (message.Job is { } job)
                Assert.False(MeshProtocol.TryToJobRequest(job, out _, out _), $"a {length}-byte prefix of {wire.Length} converted");
        }

        Assert.True(parsed > 0);
    }

    [Fact]
    public void Random_bytes_never_crash_the_parser_or_the_conversion()
    {
        var random = new Random(7);
        for (int i = 0; i < 2000; i++)
        {
            byte[] junk = new byte[random.Next(0, 300)];
            random.NextBytes(junk);
            try
            {
                Wire.SchedulerMessage message = Wire.SchedulerMessage.Parser.ParseFrom(junk);
                if (message.Job is { } job)
                {
                    MeshProtocol.TryToJobRequest(job, out _, out _);
                    MeshProtocol.BestEffortJobHash(job, Domain);
                }
            }
            catch (InvalidProtocolBufferException)
            {
                // the expected answer to junk
            }
        }
    }

    [Theory]
    [InlineData(0u, 1000)]
    [InlineData(1u, 1000)]
    [InlineData(999u, 1000)]
    [InlineData(2500u, 2500)]
    [InlineData(5000u, 5000)]
    [InlineData(uint.MaxValue, 5000)]
    public void Welcome_interval_is_clamped_to_the_contract_bounds(uint sent, int expectedMs) =>
        Assert.Equal(TimeSpan.FromMilliseconds(expectedMs), MeshProtocol.HeartbeatInterval(new Wire.Welcome { HeartbeatIntervalMs = sent }));

    [Fact]
    public void Backoff_grows_exponentially_with_full_jitter_under_the_cap()
    {
        TimeSpan initial = TimeSpan.FromMilliseconds(500), max = TimeSpan.FromSeconds(30);
        Assert.Equal(TimeSpan.Zero, MeshProtocol.Backoff(3, initial, max, 0));
        Assert.Equal(TimeSpan.FromMilliseconds(500), MeshProtocol.Backoff(0, initial, max, 1));
        Assert.Equal(TimeSpan.FromMilliseconds(4000), MeshProtocol.Backoff(3, initial, max, 1));
        Assert.Equal(max, MeshProtocol.Backoff(6, initial, max, 1));
        Assert.Equal(max, MeshProtocol.Backoff(int.MaxValue, initial, max, 1)); // no overflow
        Assert.Equal(TimeSpan.FromMilliseconds(250), MeshProtocol.Backoff(0, initial, max, 0.5));
    }
}
