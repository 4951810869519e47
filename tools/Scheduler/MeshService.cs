using Grpc.Core;
using Google.Protobuf;
using InfraMind.Node.Crypto;
using Wire = InfraMind.Node.Protos.Mesh;

namespace InfraMind.Scheduler;

/// <summary>
/// The server side of <c>inframind.mesh.v1.Mesh/Connect</c>. Bound by hand (<see cref="BindService"/>) because the
/// message types come from the node's assembly, whose mesh.proto is compiled for the client only. Grpc.AspNetCore
/// finds the handler by name and insists it be virtual and declared on the binding type, as generated bases are.
/// </summary>
[BindServiceMethod(typeof(MeshService), nameof(BindService))]
public class MeshService(Hub hub)
{
    private static readonly Method<Wire.NodeMessage, Wire.SchedulerMessage> ConnectMethod = new(
        MethodType.DuplexStreaming, "inframind.mesh.v1.Mesh", "Connect",
        Marshallers.Create(m => m.ToByteArray(), Wire.NodeMessage.Parser.ParseFrom),
        Marshallers.Create(m => m.ToByteArray(), Wire.SchedulerMessage.Parser.ParseFrom));

    public static void BindService(ServiceBinderBase binder, MeshService? service) =>
        binder.AddMethod(ConnectMethod, service is null ? null : service.Connect);

    public virtual async Task Connect(IAsyncStreamReader<Wire.NodeMessage> requests, IServerStreamWriter<Wire.SchedulerMessage> responses, ServerCallContext context)
    {
        using var aborted = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken);
        CancellationToken token = aborted.Token;
        Connection conn = hub.Open(token);
        HttpContext http = context.GetHttpContext();
        conn.Drop = () =>
        {
            hub.Record(new SchedulerEvent("drop", Hub.NowMs(), conn.Id, conn.Node.ToString()));
            http.Abort();
            aborted.Cancel();
        };
        try
        {
            if (!await requests.MoveNext(token) || requests.Current.KindCase != Wire.NodeMessage.KindOneofCase.Hello)
            {
                hub.Record(new SchedulerEvent("protocol_error", Hub.NowMs(), conn.Id, Detail: "the first message was not a hello"));
                return;
            }

            string? problem = Verify.Hello(requests.Current.Hello, hub.Domain, out Address node);
            hub.Record(new SchedulerEvent("hello", Hub.NowMs(), conn.Id, requests.Current.Hello.Node, Valid: problem is null, Detail: problem));
            if (problem is not null)
                throw new RpcException(new Status(StatusCode.Unauthenticated, $"hello refused: {problem}"));
            conn.Node = node;

            Task writer = WriteLoopAsync(conn, responses, token);
            conn.Send(new Wire.SchedulerMessage
            {
                Welcome = new Wire.Welcome { HeartbeatIntervalMs = hub.Options.HeartbeatMs, Stake = hub.Options.Stake, Scheduler = hub.Address.ToString() },
            });
            Task pinger = PingLoopAsync(conn, token);
            foreach (JobDraft draft in Admin.JobsFromFile(hub.Options.JobsFile))
                Admin.SendJob(hub, conn, draft);

            while (await requests.MoveNext(token))
                Handle(conn, requests.Current);
            await Task.WhenAny(writer, pinger);
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            // Dropped on purpose or the node went away.
        }
        catch (IOException)
        {
            // The connection broke under the read.
        }
        finally
        {
            hub.Close(conn);
            conn.Outbox.Writer.TryComplete();
            hub.Record(new SchedulerEvent("disconnect", Hub.NowMs(), conn.Id, conn.Node.ToString()));
        }
    }

    private void Handle(Connection conn, Wire.NodeMessage message)
    {
        long now = Hub.NowMs();
        string node = conn.Node.ToString();
        switch (message.KindCase)
        {
            case Wire.NodeMessage.KindOneofCase.Heartbeat:
                hub.Record(new SchedulerEvent("heartbeat", now, conn.Id, node, Detail: $"active_jobs={message.Heartbeat.ActiveJobs}"));
                break;
            case Wire.NodeMessage.KindOneofCase.Ack:
                double? latency = conn.JobSentAt.TryRemove(message.Ack.JobId, out long sent) ? (double)(System.Diagnostics.Stopwatch.GetTimestamp() - sent) * 1000 / System.Diagnostics.Stopwatch.Frequency : null;
                hub.Record(new SchedulerEvent("ack", now, conn.Id, node, message.Ack.JobId, LatencyMs: latency));
                break;
            case Wire.NodeMessage.KindOneofCase.Rejection:
                string? bad = Verify.Rejection(message.Rejection, hub.Domain, conn.Node);
                hub.Record(new SchedulerEvent("rejection", now, conn.Id, node, message.Rejection.JobId, bad is null, bad ?? message.Rejection.Reason));
                break;
            case Wire.NodeMessage.KindOneofCase.Receipt:
                string? wrong = Verify.Receipt(message.Receipt, hub.Domain, conn.Node);
                bool fresh = wrong is null && hub.Store(message.Receipt);
                hub.Record(new SchedulerEvent("receipt", now, conn.Id, node, message.Receipt.JobId, wrong is null, wrong ?? (fresh ? "stored" : "repeat")));
                if (wrong is null && !hub.WithholdAcks)
                    conn.Send(new Wire.SchedulerMessage { ReceiptAck = new Wire.ReceiptAck { JobId = message.Receipt.JobId } });
                break;
            case Wire.NodeMessage.KindOneofCase.Pong:
                hub.Record(new SchedulerEvent("pong", now, conn.Id, node, Detail: message.Pong.Nonce.ToString(System.Globalization.CultureInfo.InvariantCulture)));
                break;
            default:
                hub.Record(new SchedulerEvent("unexpected", now, conn.Id, node, Detail: message.KindCase.ToString()));
                break;
        }
    }

    private static async Task WriteLoopAsync(Connection conn, IServerStreamWriter<Wire.SchedulerMessage> responses, CancellationToken token)
    {
        await foreach (Wire.SchedulerMessage message in conn.Outbox.Reader.ReadAllAsync(token))
        {
            // A stall stops everything going out while the stream stays open; what was queued is never sent.
            if (conn.Stalled)
                continue;
            if (message.KindCase == Wire.SchedulerMessage.KindOneofCase.Job)
                conn.JobSentAt[message.Job.JobId] = System.Diagnostics.Stopwatch.GetTimestamp();
            await responses.WriteAsync(message, token);
        }
    }

    private async Task PingLoopAsync(Connection conn, CancellationToken token)
    {
        int period = hub.Options.PingMs > 0 ? hub.Options.PingMs : (int)hub.Options.HeartbeatMs;
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(Math.Max(50, period)));
        ulong nonce = 0;
        while (await timer.WaitForNextTickAsync(token))
            conn.Send(new Wire.SchedulerMessage { Ping = new Wire.Ping { Nonce = ++nonce } });
    }
}
