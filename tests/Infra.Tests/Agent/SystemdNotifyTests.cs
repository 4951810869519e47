using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using InfraMind.Node.Tests.Support;

namespace InfraMind.Node.Tests.Agent;

/// <summary>
/// `infra run` under a pretend systemd: NOTIFY_SOCKET is a datagram socket this test owns. The agent must say
/// READY=1 once serving, WATCHDOG=1 within the interval WATCHDOG_USEC sets, and STOPPING=1 on SIGTERM, then exit 0.
/// </summary>
public sealed class SystemdNotifyTests
{
    [Fact]
    public async Task Infra_run_sends_ready_watchdog_and_stopping_to_the_notify_socket()
    {
        using var temp = new TempFolder();
        string notify = temp["notify.sock"];
        using var socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        socket.Bind(new UnixDomainSocketEndPoint(notify));

        var env = new Dictionary<string, string>
        {
            ["NOTIFY_SOCKET"] = notify,
            ["WATCHDOG_USEC"] = "1000000", // 1 s: the agent pings every half interval
            ["INFRAMIND_RUNTIME_ENGINE"] = "docker",
            ["INFRAMIND_LISTENER_BIND"] = "127.0.0.1",
            ["INFRAMIND_LISTENER_PORT"] = FreePorts.Next().ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["INFRAMIND_NODE_STATE_DIR"] = temp["state"],
            ["INFRAMIND_CONTROL_SOCKET"] = temp["control.sock"],
        };
        Assert.Equal(0, InfraProcess.Run(temp.Path, env, "init", "--keygen").ExitCode);
        using Process agent = InfraProcess.Start(temp.Path, env, "run");
        Task<string> log = agent.StandardError.ReadToEndAsync();
        try
        {
            string ready = await ReceiveAsync(socket, m => m.Contains("READY=1", StringComparison.Ordinal), TimeSpan.FromSeconds(60));
            Assert.Contains("STATUS=serving on 127.0.0.1:", ready, StringComparison.Ordinal);

            var clock = Stopwatch.StartNew();
            await ReceiveAsync(socket, m => m.Contains("WATCHDOG=1", StringComparison.Ordinal), TimeSpan.FromSeconds(5));
            await ReceiveAsync(socket, m => m.Contains("WATCHDOG=1", StringComparison.Ordinal), TimeSpan.FromSeconds(5));
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(3), $"two watchdog pings took {clock.Elapsed.TotalMilliseconds:F0} ms with a 1 s watchdog");

            using (Process term = Process.Start("kill", ["-TERM", agent.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
                await term.WaitForExitAsync();
            string stopping = await ReceiveAsync(socket, m => m.Contains("STOPPING=1", StringComparison.Ordinal), TimeSpan.FromSeconds(30));
            Assert.Contains("STATUS=draining", stopping, StringComparison.Ordinal);
            using var exited = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            await agent.WaitForExitAsync(exited.Token);
            Assert.True(agent.ExitCode == 0, await log);
        }
        finally
        {
            if (!agent.HasExited)
                agent.Kill();
        }
    }

    private static async Task<string> ReceiveAsync(Socket socket, Func<string, bool> wanted, TimeSpan within)
    {
        using var timeout = new CancellationTokenSource(within);
        byte[] buffer = new byte[4096];
        var seen = new List<string>();
        try
        {
            while (true)
            {
                int n = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
                string message = Encoding.UTF8.GetString(buffer, 0, n);
                if (wanted(message))
                    return message;
                seen.Add(message);
            }
        }
        catch (OperationCanceledException)
        {
            throw new Xunit.Sdk.XunitException($"no wanted notify message within {within.TotalSeconds} s; saw: {string.Join(" | ", seen)}");
        }
    }
}
