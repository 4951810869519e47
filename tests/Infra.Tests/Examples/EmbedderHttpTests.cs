using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace InfraMind.Node.Tests.Examples;

/// <summary>
/// `embedder serve` over real sockets on the host: the protocol the node speaks to a rest model, and what a
/// hostile or broken client sends. After every abuse the server must still answer.
/// </summary>
public sealed class EmbedderHttpTests(EmbedderServer server) : IClassFixture<EmbedderServer>
{
    private static readonly string ValidRequest = "POST /inference HTTP/1.1\r\nHost: m\r\nContent-Length: 18\r\n\r\n{\"input\": \"hi yo\"}";

    [Fact]
    public async Task Health_answers_ok_to_get_and_head()
    {
        using RawHttp http = await RawHttp.ConnectAsync(server.Port);
        await http.SendAsync("GET /health HTTP/1.1\r\nHost: m\r\n\r\nHEAD /health HTTP/1.1\r\nHost: m\r\n\r\nGET /health?probe=1 HTTP/1.1\r\n\r\n"u8.ToArray());
        RawHttp.Response get = (await http.ReadAsync())!;
        Assert.Equal(200, get.Status);
        Assert.Equal("text/plain", get.Headers["Content-Type"]);
        Assert.Equal("ok\n", get.Text);
        RawHttp.Response head = (await http.ReadAsync(headOnly: true))!;
        Assert.Equal(200, head.Status);
        Assert.Equal("3", head.Headers["Content-Length"]);
        // Had HEAD sent a body, this third answer would not parse.
        Assert.Equal("ok\n", (await http.ReadAsync())!.Text);
    }

    [Fact]
    public async Task Inference_matches_the_reference_with_escaped_and_with_raw_utf8_json()
    {
        IReadOnlyList<double[]> reference = EmbedderArtifacts.Reference(EmbedderReferenceTests.Texts);
        using RawHttp http = await RawHttp.ConnectAsync(server.Port);
        var raw = new JsonSerializerOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, TypeInfoResolver = ExampleJson.Default };
        for (int i = 0; i < EmbedderReferenceTests.Texts.Count; i++)
        {
            string text = EmbedderReferenceTests.Texts[i];
            // System.Text.Json's default writes every non-ASCII character as \uXXXX (surrogate pairs for emoji),
            // as the node does; the relaxed encoder writes raw UTF-8. Both must decode to the same bytes.
            foreach (string json in new[] { JsonSerializer.Serialize(text, ExampleJson.Default.String), JsonSerializer.Serialize(text, raw) })
            {
                await http.SendAsync(RawHttp.Post("/inference", $"{{\"input\": {json}}}"));
                RawHttp.Response answer = (await http.ReadAsync())!;
                Assert.Equal(200, answer.Status);
                Assert.Equal("application/json", answer.Headers["Content-Type"]);
                Assert.StartsWith("{\"output\":[", answer.Text, StringComparison.Ordinal);
                EmbedderArtifacts.AssertClose(reference[i], Output(answer), $"text #{i} sent as {json[..Math.Min(json.Length, 40)]}");
            }
        }
    }

    [Fact]
    public async Task Every_escape_form_decodes_and_other_members_are_skipped()
    {
        string body = """{"meta": {"a": [1, -2.5e3, true, false, null, "x\"y"]}, "input": "caf\u00E9 \"q\" \\ \/ \b\f\n\r\t \ud83d\ude80 \u65e5", "z": []}""";
        string expected = "café \"q\" \\ / \b\f\n\r\t 🚀 日";
        double[] reference = EmbedderArtifacts.Reference([expected])[0];
        using RawHttp http = await RawHttp.ConnectAsync(server.Port);
        await http.SendAsync(RawHttp.Post("/inference", body));
        RawHttp.Response answer = (await http.ReadAsync())!;
        Assert.Equal(200, answer.Status);
        EmbedderArtifacts.AssertClose(reference, Output(answer), "escapes");
    }

    [Fact]
    public async Task One_connection_serves_many_requests_and_pipelined_requests_in_order()
    {
        using RawHttp http = await RawHttp.ConnectAsync(server.Port);
        for (int i = 0; i < 20; i++)
        {
            await http.SendAsync(RawHttp.Post("/inference", $"{{\"input\":\"request {i}\"}}"));
            Assert.Equal(200, (await http.ReadAsync())!.Status);
        }

        // Three requests in one write: a 404, a 200, a 400; the answers come in that order.
        byte[] three = [.. "GET /nothing HTTP/1.1\r\n\r\n"u8, .. RawHttp.Post("/inference", "{\"input\":\"x\"}"), .. RawHttp.Post("/inference", "{}")];
        await http.SendAsync(three);
        Assert.Equal(404, (await http.ReadAsync())!.Status);
        Assert.Equal(200, (await http.ReadAsync())!.Status);
        Assert.Equal(400, (await http.ReadAsync())!.Status);
    }

    [Fact]
    public async Task A_request_split_at_every_byte_boundary_is_answered_the_same()
    {
        byte[] request = Encoding.ASCII.GetBytes(ValidRequest);
        string? expected = null;
        for (int split = 1; split < request.Length; split++)
        {
            using RawHttp http = await RawHttp.ConnectAsync(server.Port);
            await http.SendAsync(request.AsMemory(0, split));
            await Task.Delay(3); // let the server see the first part on its own
            await http.SendAsync(request.AsMemory(split));
            RawHttp.Response answer = (await http.ReadAsync())!;
            Assert.Equal(200, answer.Status);
            expected ??= answer.Text;
            Assert.Equal(expected, answer.Text);
        }
    }

    [Fact]
    public async Task Every_truncated_request_gets_no_answer_and_the_server_survives()
    {
        byte[] request = Encoding.ASCII.GetBytes(ValidRequest);
        for (int length = 0; length < request.Length; length++)
        {
            using RawHttp http = await RawHttp.ConnectAsync(server.Port);
            await http.SendAsync(request.AsMemory(0, length));
            http.ShutdownSend();
            Assert.Null(await http.ReadAsync());
        }

        await AssertHealthyAsync();
    }

    [Theory]
    [InlineData("", "must be a JSON object")]
    [InlineData("null", "must be a JSON object")]
    [InlineData("[\"input\"]", "must be a JSON object")]
    [InlineData("{}", "no \\\"input\\\" member")]
    [InlineData("{\"Input\": \"x\"}", "no \\\"input\\\" member")]
    [InlineData("{\"input\": 1}", "must be a JSON string")]
    [InlineData("{\"input\": [\"x\"]}", "must be a JSON string")]
    [InlineData("{\"input\": null}", "must be a JSON string")]
    [InlineData("{\"input\": \"x\", \"input\": \"y\"}", "appears twice")]
    [InlineData("{\"input\": \"x\"} {}", "data after the JSON object")]
    [InlineData("{\"input\": \"x\"", "missing a ','")]
    [InlineData("{\"input\": \"x", "not closed")]
    [InlineData("{\"input\" \"x\"}", "followed by ':'")]
    [InlineData("{input: \"x\"}", "key must be a string")]
    [InlineData("{\"input\": \"x\",}", "key must be a string")]
    [InlineData("{\"input\": \"a\\qb\"}", "unknown escape")]
    [InlineData("{\"input\": \"\\u12\"}", "four hex digits")]
    [InlineData("{\"input\": \"\\u12G4\"}", "four hex digits")]
    [InlineData("{\"input\": \"\\ud83d\"}", "high surrogate")]
    [InlineData("{\"input\": \"\\ud83d\\u0041\"}", "high surrogate")]
    [InlineData("{\"input\": \"\\ude80\"}", "lone low surrogate")]
    [InlineData("{\"input\": \"tab\tinside\"}", "control character")]
    [InlineData("{\"a\": 01, \"input\": \"x\"}", "missing a ','")]
    [InlineData("{\"a\": -, \"input\": \"x\"}", "number is malformed")]
    [InlineData("{\"a\": 1.e5, \"input\": \"x\"}", "number is malformed")]
    [InlineData("{\"a\": tru, \"input\": \"x\"}", "not JSON")]
    [InlineData("{\"a\": [1 2], \"input\": \"x\"}", "missing a ','")]
    public async Task Malformed_bodies_get_400_naming_the_problem_and_keep_the_connection(string body, string reason)
    {
        using RawHttp http = await RawHttp.ConnectAsync(server.Port);
        await http.SendAsync(RawHttp.Post("/inference", body));
        RawHttp.Response answer = (await http.ReadAsync())!;
        Assert.Equal(400, answer.Status);
        Assert.Contains(reason, answer.Text, StringComparison.Ordinal);
        using (JsonDocument error = JsonDocument.Parse(answer.Body))
            Assert.False(string.IsNullOrEmpty(error.RootElement.GetProperty("error").GetString()));

        // The framing was fine, so the connection carries on.
        await http.SendAsync(RawHttp.Post("/inference", "{\"input\":\"still here\"}"));
        Assert.Equal(200, (await http.ReadAsync())!.Status);
    }

    [Theory]
    [InlineData(new byte[] { 0x22, 0xff, 0x22 })]             // a byte that is never UTF-8
    [InlineData(new byte[] { 0x22, 0xc3, 0x22 })]             // a truncated sequence
    [InlineData(new byte[] { 0x22, 0xc0, 0xaf, 0x22 })]       // an overlong "/"
    [InlineData(new byte[] { 0x22, 0xed, 0xa0, 0x80, 0x22 })] // a surrogate encoded as UTF-8
    [InlineData(new byte[] { 0x22, 0xf4, 0x90, 0x80, 0x80, 0x22 })] // past U+10FFFF
    public async Task Invalid_utf8_in_the_input_string_gets_400(byte[] jsonString)
    {
        using RawHttp http = await RawHttp.ConnectAsync(server.Port);
        await http.SendAsync(RawHttp.Post("/inference", [.. "{\"input\":"u8, .. jsonString, .. "}"u8]));
        RawHttp.Response answer = (await http.ReadAsync())!;
        Assert.Equal(400, answer.Status);
        Assert.Contains("not valid UTF-8", answer.Text, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("POST /inference HTTP/1.1\nContent-Length: 2\n\n{}", 0)] // bare LF: never a complete head; closed by the peer
    [InlineData("GARBAGE\r\n\r\n", 400)]
    [InlineData("GET /health\r\n\r\n", 400)]
    [InlineData("GET /health HTTP/2.0\r\n\r\n", 400)]
    [InlineData("GET  /health HTTP/1.1\r\n\r\n", 400)]
    [InlineData("GET /health HTTP/1.1\r\nNo-Colon\r\n\r\n", 400)]
    [InlineData("GET /health HTTP/1.1\r\n: empty-name\r\n\r\n", 400)]
    [InlineData("GET /health HTTP/1.1\r\nName : space\r\n\r\n", 400)]
    [InlineData("GET /health HTTP/1.1\r\nA: b\r\n folded\r\n\r\n", 400)]
    [InlineData("GET /health HTTP/1.1\r\nA: b\nc\r\n\r\n", 400)]
    [InlineData("POST /inference HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400)]
    [InlineData("POST /inference HTTP/1.1\r\nContent-Length: 1e3\r\n\r\n", 400)]
    [InlineData("POST /inference HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n", 400)]
    [InlineData("POST /inference HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}", 400)]
    [InlineData("POST /inference HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n", 411)]
    [InlineData("POST /inference HTTP/1.1\r\nContent-Length: 7340032\r\n\r\n", 413)]
    public async Task Broken_or_hostile_heads_are_refused_and_the_connection_closed(string request, int status)
    {
        using RawHttp http = await RawHttp.ConnectAsync(server.Port);
        await http.SendAsync(Encoding.ASCII.GetBytes(request));
        if (status == 0)
        {
            http.ShutdownSend();
            Assert.Null(await http.ReadAsync());
        }
        else
        {
            RawHttp.Response answer = (await http.ReadAsync())!;
            Assert.Equal(status, answer.Status);
            Assert.Equal("close", answer.Headers["Connection"]);
            Assert.True(await http.ClosedByServerAsync(TimeSpan.FromSeconds(5)));
        }

        await AssertHealthyAsync();
    }

    [Fact]
    public async Task A_head_over_16_KiB_gets_431()
    {
        using RawHttp http = await RawHttp.ConnectAsync(server.Port);
        await http.SendAsync(Encoding.ASCII.GetBytes("GET /health HTTP/1.1\r\nX-Big: " + new string('a', 20_000) + "\r\n\r\n"));
        Assert.Equal(431, (await http.ReadAsync())!.Status);
        await AssertHealthyAsync();
    }

    [Fact]
    public async Task Input_text_over_1_MiB_gets_413_and_exactly_1_MiB_is_embedded()
    {
        string limit = EmbedderReferenceTests.LongText(1 << 20);
        using RawHttp http = await RawHttp.ConnectAsync(server.Port);
        await http.SendAsync(RawHttp.Post("/inference", $"{{\"input\":\"{limit}\"}}"));
        Assert.Equal(200, (await http.ReadAsync())!.Status);
        await http.SendAsync(RawHttp.Post("/inference", $"{{\"input\":\"{limit}x\"}}"));
        RawHttp.Response over = (await http.ReadAsync())!;
        Assert.Equal(413, over.Status);
        Assert.Contains("over 1 MiB", over.Text, StringComparison.Ordinal);

        // 1 MiB of text written as \u escapes (6 bytes a character, as the node's JSON writer may) still fits.
        string escaped = string.Concat(Enumerable.Repeat("\\u0061", 1 << 20));
        await http.SendAsync(RawHttp.Post("/inference", $"{{\"input\":\"{escaped}\"}}"));
        Assert.Equal(200, (await http.ReadAsync())!.Status);
    }

    [Fact]
    public async Task Deep_nesting_gets_400_without_exhausting_the_stack()
    {
        using RawHttp http = await RawHttp.ConnectAsync(server.Port);
        string deep = "{\"a\":" + new string('[', 200_000) + new string(']', 200_000) + ",\"input\":\"x\"}";
        await http.SendAsync(RawHttp.Post("/inference", deep));
        RawHttp.Response answer = (await http.ReadAsync())!;
        Assert.Equal(400, answer.Status);
        Assert.Contains("nested over 64 levels", answer.Text, StringComparison.Ordinal);

        string fine = "{\"a\":" + new string('[', 60) + new string(']', 60) + ",\"input\":\"x\"}";
        await http.SendAsync(RawHttp.Post("/inference", fine));
        Assert.Equal(200, (await http.ReadAsync())!.Status);
    }

    [Fact]
    public async Task Expect_100_continue_is_honoured()
    {
        byte[] body = "{\"input\":\"after continue\"}"u8.ToArray();
        using RawHttp http = await RawHttp.ConnectAsync(server.Port);
        await http.SendAsync(Encoding.ASCII.GetBytes($"POST /inference HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: {body.Length}\r\n\r\n"));
        Assert.Equal(100, (await http.ReadAsync())!.Status);
        await http.SendAsync(body);
        Assert.Equal(200, (await http.ReadAsync())!.Status);
    }

    [Theory]
    [InlineData("GET /inference HTTP/1.1\r\n\r\n", 405, "Allow", "POST")]
    [InlineData("POST /health HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 405, "Allow", "GET, HEAD")]
    [InlineData("GET / HTTP/1.1\r\n\r\n", 404, "Content-Type", "text/plain")]
    [InlineData("GET /health HTTP/1.1\r\nConnection: close\r\n\r\n", 200, "Connection", "close")]
    [InlineData("GET /health HTTP/1.0\r\n\r\n", 200, "Connection", "close")]
    public async Task Methods_paths_and_connection_handling(string request, int status, string header, string value)
    {
        using RawHttp http = await RawHttp.ConnectAsync(server.Port);
        await http.SendAsync(Encoding.ASCII.GetBytes(request));
        RawHttp.Response answer = (await http.ReadAsync())!;
        Assert.Equal(status, answer.Status);
        Assert.Equal(value, answer.Headers[header]);
        if (value == "close")
            Assert.True(await http.ClosedByServerAsync(TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task Idle_connections_do_not_block_others_and_the_seventh_at_once_gets_503()
    {
        // The node holds one keep-alive connection; health checks and retries must still get through.
        await Task.Delay(200); // connections of earlier tests are closed and seen closed
        var idle = new List<RawHttp>();
        try
        {
            for (int i = 0; i < 6; i++)
            {
                idle.Add(await RawHttp.ConnectAsync(server.Port));
                await idle[^1].SendAsync("GET /health HTTP/1.1\r\n\r\n"u8.ToArray()); // accepted and answered
                Assert.Equal(200, (await idle[^1].ReadAsync())!.Status);
            }

            using RawHttp extra = await RawHttp.ConnectAsync(server.Port);
            RawHttp.Response refused = (await extra.ReadAsync())!;
            Assert.Equal(503, refused.Status);
        }
        finally
        {
            idle.ForEach(c => c.Dispose());
        }

        await Task.Delay(200); // the server notices the closes on its next poll
        await AssertHealthyAsync();
    }

    [Fact]
    public async Task Random_bytes_never_crash_the_server()
    {
        var random = new Random(2024);
        byte[][] prefixes = ["POST /inference HTTP/1.1\r\nContent-Length: 40\r\n\r\n"u8.ToArray(), "GET /health HTTP/1.1\r\n"u8.ToArray(), [], "{\"input\":\""u8.ToArray()];
        for (int i = 0; i < 300; i++)
        {
            byte[] noise = new byte[random.Next(0, 300)];
            random.NextBytes(noise);
            using RawHttp http = await RawHttp.ConnectAsync(server.Port);
            byte[] request = [.. prefixes[i % prefixes.Length], .. noise];
            await http.SendAsync(request);
            http.ShutdownSend();
            try
            {
                await http.ReadAsync(TimeSpan.FromSeconds(5)); // any answer, or a close
            }
            catch (IOException)
            {
                // closed mid-answer is acceptable for noise
            }
        }

        await AssertHealthyAsync();
    }

    private async Task AssertHealthyAsync()
    {
        Assert.True(server.Running, "embedder serve exited");
        using RawHttp http = await RawHttp.ConnectAsync(server.Port);
        await http.SendAsync("GET /health HTTP/1.1\r\n\r\n"u8.ToArray());
        Assert.Equal(200, (await http.ReadAsync())!.Status);
    }

    private static double[] Output(RawHttp.Response answer)
    {
        using JsonDocument json = JsonDocument.Parse(answer.Body);
        return EmbedderArtifacts.ParseVector(json.RootElement.GetProperty("output").GetRawText());
    }
}
