using System.Text.Json;
using Wire = InfraMind.Node.Protos.Mesh;

namespace InfraMind.Scheduler;

/// <summary>
/// The admin API on --admin-port: POST /admin/jobs (a job draft, signed and sent), POST /admin/drop, /admin/stall,
/// /admin/resume, /admin/withhold-acks, /admin/release-acks, GET /admin/events and GET /admin/healthz.
/// </summary>
public static class Admin
{
    public static void Map(WebApplication app, Hub hub)
    {
        app.MapGet("/admin/healthz", () => Results.Json(Answer(hub, "up"), SchedulerJson.Default.AdminAnswer));
        app.MapGet("/admin/events", () => Results.Json(hub.Events(), SchedulerJson.Default.SchedulerEventArray));
        app.MapPost("/admin/jobs", async (HttpRequest request) =>
        {
            JobDraft? draft;
            try
            {
                draft = await JsonSerializer.DeserializeAsync(request.Body, SchedulerJson.Default.JobDraft);
            }
            catch (JsonException e)
            {
                return Results.Json(new AdminAnswer(false, $"the body is not a job draft: {e.Message}", 0), SchedulerJson.Default.AdminAnswer, statusCode: 400);
            }

            if (draft is null || string.IsNullOrEmpty(draft.JobId))
                return Results.Json(new AdminAnswer(false, "job_id is required", 0), SchedulerJson.Default.AdminAnswer, statusCode: 400);
            int sent = 0;
            foreach (Connection conn in Welcomed(hub))
            {
                SendJob(hub, conn, draft);
                sent++;
            }

            return sent == 0
                ? Results.Json(new AdminAnswer(false, "no node is connected", 0), SchedulerJson.Default.AdminAnswer, statusCode: 409)
                : Results.Json(new AdminAnswer(true, $"job {draft.JobId} sent", sent), SchedulerJson.Default.AdminAnswer);
        });
        app.MapPost("/admin/drop", () => Each(hub, "dropped", c => c.Drop?.Invoke()));
        app.MapPost("/admin/stall", () => Each(hub, "stalled", c =>
        {
            c.Stalled = true;
            hub.Record(new SchedulerEvent("stall", Hub.NowMs(), c.Id, c.Node.ToString()));
        }));
        app.MapPost("/admin/resume", () => Each(hub, "resumed", c => c.Stalled = false));
        app.MapPost("/admin/withhold-acks", () =>
        {
            hub.WithholdAcks = true;
            return Results.Json(Answer(hub, "withholding receipt_acks"), SchedulerJson.Default.AdminAnswer);
        });
        app.MapPost("/admin/release-acks", () =>
        {
            hub.WithholdAcks = false;
            return Results.Json(Answer(hub, "acking receipts again"), SchedulerJson.Default.AdminAnswer);
        });
    }

    public static void SendJob(Hub hub, Connection conn, JobDraft draft)
    {
        Wire.Job job = hub.SignJob(draft, conn.Node);
        hub.Record(new SchedulerEvent("job", Hub.NowMs(), conn.Id, conn.Node.ToString(), draft.JobId, Detail: draft.BadSignature == true ? "bad signature" : null));
        conn.Send(new Wire.SchedulerMessage { Job = job });
    }

    public static IReadOnlyList<JobDraft> JobsFromFile(string? path) =>
        path is null ? [] : JsonSerializer.Deserialize(File.ReadAllBytes(path), SchedulerJson.Default.JobDraftArray) ?? [];

    private static IEnumerable<Connection> Welcomed(Hub hub) => hub.Connections.Where(c => !c.Node.IsZero);

    private static IResult Each(Hub hub, string what, Action<Connection> action)
    {
        Connection[] all = Welcomed(hub).ToArray();
        foreach (Connection conn in all)
            action(conn);
        return Results.Json(new AdminAnswer(true, $"{what} {all.Length} stream(s)", all.Length), SchedulerJson.Default.AdminAnswer);
    }

    private static AdminAnswer Answer(Hub hub, string message) => new(true, message, Welcomed(hub).Count());
}
