using System.Net;
using InfraMind.Scheduler;
using Microsoft.AspNetCore.Server.Kestrel.Core;

// The reference scheduler: `inframind-scheduler --port 7000 --admin-port 7001 --key scheduler.key [--heartbeat-ms 1000]
// [--ping-ms N] [--chain-id 31337] [--receipts receipts.jsonl] [--jobs jobs.json] [--withhold-acks]`.
// gRPC (h2c) on --port, a small HTTP/1.1 admin API on --admin-port (see README.md beside this file).
SchedulerOptions options;
try
{
    options = SchedulerOptions.Parse(args);
}
catch (ArgumentException e)
{
    Console.Error.WriteLine($"inframind-scheduler: {e.Message}");
    return 2;
}

var hub = new Hub(options);
WebApplicationBuilder builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = [] });
builder.Logging.ClearProviders();
builder.WebHost.ConfigureKestrel(kestrel =>
{
    kestrel.Listen(IPAddress.Loopback, options.Port, o => o.Protocols = HttpProtocols.Http2);
    kestrel.Listen(IPAddress.Loopback, options.AdminPort, o => o.Protocols = HttpProtocols.Http1);
});
builder.Services.AddGrpc();
builder.Services.AddSingleton(hub);
builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.TypeInfoResolverChain.Insert(0, SchedulerJson.Default));
WebApplication app = builder.Build();
app.MapGrpcService<MeshService>();
Admin.Map(app, hub);
await app.StartAsync();
Console.WriteLine($"scheduler {hub.Address} grpc http://127.0.0.1:{options.Port} admin http://127.0.0.1:{options.AdminPort}");
await app.WaitForShutdownAsync();
return 0;
