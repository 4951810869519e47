using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace InfraMind.Node.Tests.Support;

/// <summary>
/// A real HTTP server on 127.0.0.1 for the fetch tests: it serves fixed answers per path (a mirror, a
/// trustless gateway, a misbehaving one) and counts the requests it gets.
/// </summary>
public sealed class LocalHttpServer : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly ConcurrentDictionary<string, Answer> _answers = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int> _requests = new(StringComparer.Ordinal);
    private readonly Task _loop;

    public LocalHttpServer()
    {
        int port = FreePorts.Next();
        BaseUri = new Uri($"http://127.0.0.1:{port}/");
        _listener.Prefixes.Add(BaseUri.ToString());
        _listener.Start();
        _loop = Task.Run(ServeAsync);
    }

    public Uri BaseUri { get; }

    public sealed record Answer(byte[] Body, string ContentType = "application/octet-stream", int Status = 200, long? DeclaredLength = null);

    public Uri Serve(string path, Answer answer)
    {
        _answers[path] = answer;
        return new Uri(BaseUri, path);
    }

    public int RequestsFor(string path) => _requests.GetValueOrDefault(path);

    public int TotalRequests => _requests.Values.Sum();

    public void Dispose()
    {
        // Close alone: Stop then Close unregisters the port twice, and the managed listener's second
        // unregistration binds the port anew to look it up, which fails when another test has taken it.
        _listener.Close();
        try
        {
            _loop.Wait(TimeSpan.FromSeconds(5));
        }
        catch (AggregateException)
        {
            // The listener was closed under the loop: that is how it stops.
        }
    }

    private async Task ServeAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            string path = context.Request.Url!.AbsolutePath;
            _requests.AddOrUpdate(path, 1, (_, n) => n + 1);
            try
            {
                if (!_answers.TryGetValue(path, out Answer? answer))
                {
                    context.Response.StatusCode = 404;
                    context.Response.Close();
                    continue;
                }

                context.Response.StatusCode = answer.Status;
                context.Response.ContentType = answer.ContentType;
                context.Response.ContentLength64 = answer.DeclaredLength ?? answer.Body.Length;
                await context.Response.OutputStream.WriteAsync(answer.Body);
                context.Response.Close();
            }
            catch (Exception e) when (e is HttpListenerException or IOException or InvalidOperationException)
            {
                context.Response.Abort(); // a declared length the body does not reach: the client sees a cut
            }
        }
    }
}
