using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json;
using InfraMind.Node.Crypto;

namespace InfraMind.Node.JobBench;

/// <summary>
/// `infra run` as its own process, under a throwaway state folder: its own key, receipt log, cache and control
/// socket, listening on 127.0.0.1 on a free port, trusting the bench's scheduler only, Docker as the engine.
/// Its log goes to <c>node.log</c> in the results folder.
/// </summary>
internal sealed class NodeProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly string _home;

    private NodeProcess(Process process, string home, IPEndPoint endPoint, Address nodeId)
    {
        _process = process;
        _home = home;
        EndPoint = endPoint;
        NodeId = nodeId;
    }

    public IPEndPoint EndPoint { get; }

    public Address NodeId { get; }

    public int Pid => _process.Id;

    public static async Task<NodeProcess> StartAsync(string infra, Address scheduler, ulong chainId, string engineSocket, string logPath, CancellationToken cancellationToken)
    {
        string home = Directory.CreateTempSubdirectory("jobbench-node-").FullName;
        string key = Path.Combine(home, "identity", "identity.key");
        await RunToEndAsync(infra, ["init", "--keygen", "--identity", key], cancellationToken).ConfigureAwait(false);

        int port = FreePort();
        string config = Path.Combine(home, "config.yaml");
        await File.WriteAllTextAsync(config, $"""
            node:
              identity: {key}
              state_dir: {Path.Combine(home, "state")}
            listener:
              bind: 127.0.0.1
              port: {port.ToString(CultureInfo.InvariantCulture)}
            control:
              socket: {Path.Combine(home, "control.sock")}
            mesh:
              trusted_schedulers:
                - {scheduler}
              chain_id: {chainId.ToString(CultureInfo.InvariantCulture)}
            runtime:
              engine: docker
              socket: {engineSocket}
            registry:
              ipfs_gateways: []
            """, cancellationToken).ConfigureAwait(false);

        var start = new ProcessStartInfo(infra) { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
        start.ArgumentList.Add("run");
        start.ArgumentList.Add("--config");
        start.ArgumentList.Add(config);
        start.Environment["HOME"] = home;
        Process process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {infra}");
        var log = new StreamWriter(logPath) { AutoFlush = true };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.WriteLine(e.Data); };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.WriteLine(e.Data); };
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();

        var endPoint = new IPEndPoint(IPAddress.Loopback, port);
        using var client = RawHttpClient.Tcp(endPoint);
        for (int attempt = 0; ; attempt++)
        {
            if (process.HasExited)
                throw new InvalidOperationException($"infra run exited with {process.ExitCode} at start; see {logPath}");
            try
            {
                RawResponse status = await client.SendAsync(RawHttpClient.Get(client.Host, "/v1/status"), cancellationToken).ConfigureAwait(false);
                using JsonDocument json = JsonDocument.Parse(status.Body);
                string id = json.RootElement.GetProperty("node_id").GetString() ?? "";
                if (!Address.TryParse(id, out Address nodeId))
                    throw new InvalidOperationException($"GET /v1/status gave node_id '{id}', not an address");
                return new NodeProcess(process, home, endPoint, nodeId);
            }
            catch (Exception e) when (e is System.Net.Sockets.SocketException or IOException && attempt < 300)
            {
                await Task.Delay(100, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private static int FreePort()
    {
        using var probe = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }

    private static async Task RunToEndAsync(string file, string[] args, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(file) { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (string arg in args)
            start.ArgumentList.Add(arg);
        using Process process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {file}");
        Task<string> errors = process.StandardError.ReadToEndAsync(cancellationToken);
        _ = await process.StandardOutput.ReadToEndAsync(cancellationToken).ConfigureAwait(false);
        await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{file} {string.Join(' ', args)}: exit {process.ExitCode}: {(await errors.ConfigureAwait(false)).Trim()}");
    }

    /// <summary>SIGTERM (the node drains), then SIGKILL after 30 s; the throwaway folder goes with it.</summary>
    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            using (Process? kill = Process.Start("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)]))
            {
                if (kill is not null)
                    await kill.WaitForExitAsync().ConfigureAwait(false);
            }

            using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            try
            {
                await _process.WaitForExitAsync(grace.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                _process.Kill(entireProcessTree: true);
            }
        }

        _process.Dispose();
        try
        {
            Directory.Delete(_home, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
