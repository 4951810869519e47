using System.Buffers;
using Google.Protobuf;
using Grpc.Core;
using InfraMind.Node.Control;
using InfraMind.Node.Protos.Control;

namespace InfraMind.Node.Tests.Control;

public class ControlServiceTests
{
    private static ReadOnlySequence<byte> Body(IMessage request)
    {
        var writer = new ArrayBufferWriter<byte>();
        GrpcWeb.WriteMessage(writer, request);
        return new ReadOnlySequence<byte>(writer.WrittenMemory);
    }

    private static async Task<(List<byte[]> Messages, StatusCode Status, string Message)> Call(ControlService service, string method, ReadOnlySequence<byte> body)
    {
        var sink = new RecordingSink();
        StatusCode returned = await service.HandleAsync(ControlService.ServicePath + method, body, sink, CancellationToken.None);
        var parsed = sink.Parse();
        Assert.Equal(returned, parsed.Status);
        return parsed;
    }

    [Fact]
    public async Task Unary_calls_answer_one_message_and_an_ok_trailer()
    {
        var plane = new FakeControlPlane();
        var service = new ControlService(plane);

        var status = await Call(service, "GetStatus", Body(new GetStatusRequest()));
        Assert.Equal(StatusCode.OK, status.Status);
        Assert.Equal(plane.Status, StatusReply.Parser.ParseFrom(Assert.Single(status.Messages)));

        var jobs = await Call(service, "ListJobs", Body(new ListJobsRequest { Limit = 7, IncludeFinished = true }));
        Assert.Equal("a6b4-23fa", ListJobsReply.Parser.ParseFrom(Assert.Single(jobs.Messages)).Jobs[0].JobId);
        Assert.Equal(7u, plane.LastListJobs!.Limit);
        Assert.True(plane.LastListJobs.IncludeFinished);

        var prune = await Call(service, "PruneCache", Body(new PruneCacheRequest { TargetBytes = 42 }));
        Assert.Equal(42UL, PruneCacheReply.Parser.ParseFrom(Assert.Single(prune.Messages)).TotalBytes);
        var cache = await Call(service, "ListCache", Body(new ListCacheRequest()));
        Assert.Equal(100UL, ListCacheReply.Parser.ParseFrom(Assert.Single(cache.Messages)).BudgetBytes);
    }

    [Fact]
    public async Task An_unknown_method_is_unimplemented_and_names_the_ones_there_are()
    {
        var result = await Call(new ControlService(new FakeControlPlane()), "Reboot", Body(new GetStatusRequest()));
        Assert.Equal(StatusCode.Unimplemented, result.Status);
        Assert.Empty(result.Messages);
        Assert.Contains("'Reboot'", result.Message, StringComparison.Ordinal);
        Assert.Contains("GetStatus", result.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(new byte[] { 1, 0, 0, 0, 0 }, StatusCode.Unimplemented)] // compressed
    [InlineData(new byte[] { 0, 0, 0, 0, 9, 1 }, StatusCode.Internal)] // truncated
    [InlineData(new byte[] { 0, 0, 0 }, StatusCode.Internal)] // truncated header
    [InlineData(new byte[] { }, StatusCode.Internal)] // no message
    [InlineData(new byte[] { 0, 0xFF, 0xFF, 0xFF, 0xFF }, StatusCode.ResourceExhausted)]
    [InlineData(new byte[] { 0, 0, 0, 0, 2, 0x0A, 0x05 }, StatusCode.InvalidArgument)] // field 1 length 5, but 0 bytes follow
    [InlineData(new byte[] { 0, 0, 0, 0, 1, 0xFF }, StatusCode.InvalidArgument)] // not protobuf
    public async Task Bad_request_bodies_get_a_status_and_no_call(byte[] body, StatusCode expected)
    {
        var plane = new FakeControlPlane { Failure = new InvalidOperationException("must not be called") };
        foreach (string method in new[] { "GetStatus", "ListJobs", "WatchJobs" })
        {
            var result = await Call(new ControlService(plane), method, new ReadOnlySequence<byte>(body));
            Assert.Equal(expected, result.Status);
            Assert.Empty(result.Messages);
            Assert.NotEmpty(result.Message);
        }

        Assert.Equal(0, plane.WatchersStarted);
    }

    [Fact]
    public async Task A_refusal_from_the_plane_keeps_its_status_and_message()
    {
        var result = await Call(new ControlService(new FakeControlPlane()), "Drain", Body(new DrainRequest { Resume = true }));
        Assert.Equal(StatusCode.FailedPrecondition, result.Status);
        Assert.Equal("the agent is not draining; nothing to resume", result.Message);
    }

    [Fact]
    public async Task An_unexpected_failure_is_internal_logged_and_not_leaked()
    {
        var logged = new List<(string, Exception)>();
        var plane = new FakeControlPlane { Failure = new InvalidOperationException("secret detail") };
        var result = await Call(new ControlService(plane, (m, e) => logged.Add((m, e))), "GetStatus", Body(new GetStatusRequest()));
        Assert.Equal(StatusCode.Internal, result.Status);
        Assert.DoesNotContain("secret", result.Message, StringComparison.Ordinal);
        Assert.Equal("GetStatus", Assert.Single(logged).Item1);
    }

    [Fact]
    public async Task WatchJobs_writes_and_flushes_each_event_then_the_trailer()
    {
        var plane = new FakeControlPlane();
        for (int i = 1; i <= 3; i++)
            plane.Push(new JobEvent { TimestampMs = (ulong)i, Job = new JobSummary { JobId = $"job-{i}", State = JobState.Running } });
        plane.Push(new JobEvent()); // end of stream
        var sink = new RecordingSink();
        StatusCode status = await new ControlService(plane).HandleAsync(ControlService.ServicePath + "WatchJobs", Body(new WatchJobsRequest()), sink, CancellationToken.None);

        Assert.Equal(StatusCode.OK, status);
        var parsed = sink.Parse();
        Assert.Equal(["job-1", "job-2", "job-3"], parsed.Messages.Select(m => JobEvent.Parser.ParseFrom(m).Job.JobId));
        Assert.True(sink.Flushes >= 4, $"{sink.Flushes} flushes: each event must leave at once");
    }

    [Fact]
    public async Task WatchJobs_ends_quietly_when_the_client_leaves()
    {
        var plane = new FakeControlPlane();
        using var gone = new CancellationTokenSource();
        var sink = new RecordingSink();
        ValueTask<StatusCode> call = new ControlService(plane).HandleAsync(ControlService.ServicePath + "WatchJobs", Body(new WatchJobsRequest()), sink, gone.Token);
        plane.Push(new JobEvent { Job = new JobSummary { JobId = "x" } });
        await gone.CancelAsync();
        Assert.Equal(StatusCode.Cancelled, await call);
        Assert.Equal(1, plane.WatchersEnded);
    }

    [Fact]
    public async Task A_broken_connection_is_thrown_to_the_listener_not_logged_as_the_planes_fault()
    {
        var logged = new List<Exception>();
        var plane = new FakeControlPlane();
        plane.Push(new JobEvent { Job = new JobSummary { JobId = "x" } });
        var sink = new RecordingSink { FailWrites = true };
        await Assert.ThrowsAsync<IOException>(async () =>
            await new ControlService(plane, (_, e) => logged.Add(e)).HandleAsync(ControlService.ServicePath + "WatchJobs", Body(new WatchJobsRequest()), sink, CancellationToken.None));
        Assert.Empty(logged);
        Assert.Equal(1, plane.WatchersEnded);
    }

    [Theory]
    [InlineData("POST", "/inframind.node.v1.Control/GetStatus", "application/grpc-web+proto", 200)]
    [InlineData("POST", "/inframind.node.v1.Control/GetStatus", "application/grpc-web", 200)]
    [InlineData("GET", "/inframind.node.v1.Control/GetStatus", "application/grpc-web+proto", 405)]
    [InlineData("POST", "/inframind.node.v1.Control/GetStatus", "application/json", 415)]
    [InlineData("POST", "/inframind.node.v1.Control/GetStatus", null, 415)]
    [InlineData("POST", "/v1/status", "application/grpc-web+proto", 404)]
    [InlineData("POST", "/inframind.node.v1.Controller/GetStatus", "application/grpc-web+proto", 404)]
    public void Requests_are_checked_before_the_body_is_read(string method, string path, string? contentType, int expected) =>
        Assert.Equal(expected, ControlService.CheckRequest(method, path, contentType));
}
