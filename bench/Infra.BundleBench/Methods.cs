using System.Buffers;
using System.Diagnostics;
using System.Security.Cryptography;
using System.Threading.Channels;
using InfraMind.Node.Crypto;
using InfraMind.Node.Models.Content;
using InfraMind.Node.Models.Fetch;

namespace InfraMind.Node.BundleBench;

/// <summary>Which bytes a method consumes: the payload (256 MiB) or the CAR file of it (slightly more).</summary>
internal enum Input
{
    Payload,
    Car,
}

/// <summary>
/// One timed run. <see cref="Receive"/> and <see cref="Write"/> are the CAR extraction's two phases (read + verify +
/// spool, then DAG walk + re-verify + file write), split at the last Receiving progress report; <see cref="Reads"/>
/// counts body reads (HTTP) or blocks (CAR); <see cref="CpuSeconds"/> is the CPU time the run took (see <see cref="Cpu"/>).
/// </summary>
internal readonly record struct Sample(double Seconds, double Receive = double.NaN, double Write = double.NaN, long Reads = 0, double CpuSeconds = double.NaN);

/// <summary>A measured method: <see cref="Goal"/> marks the two node paths the acceptance goals are about.</summary>
internal sealed record Method(string Name, string What, Input Input, bool Goal, Func<Task<Sample>> RunAsync, string? Baseline = null);

/// <summary>The methods, over one payload, its CAR and one local HTTP server.</summary>
internal sealed class Methods(Setup setup, HttpClient http, Uri bundleUri)
{
    public const string Sha256sumPayload = "sha256sum (payload)";
    public const string Sha256sumCar = "sha256sum (CAR file)";
    public const string HttpFetcher = "HTTP: HttpBundleFetcher";
    public const string CarExtract = "CAR: CarBundleReader.ExtractAsync";
    public const string CarVerifyOnly = "CAR: CarReader only (ref)";
    public const string HttpDiscard = "HTTP: GET, discard (ref)";
    public const string HttpCopy = "HTTP: GET to file, no hash (ref)";
    public const string DotnetMemory = ".NET SHA256, in memory (ref)";
    public const string HttpPrevious = "HTTP: previous 3-stage pipeline (A/B ref)";
    public const string HttpCeiling = "HTTP: GET to file, read ∥ write, no hash (ceiling)";
    public const string WhatIfCar = "what-if CAR: verify once, leaves to file";
    public const string WhatIfCarOverlap = "what-if CAR: … ∥ write";

    private readonly byte[] _memory = MemoryBlock(setup.PayloadBytes);
    private int _sequence;

    public bool HaveOpenssl { get; } = File.Exists("/usr/bin/openssl") || Which("openssl") is not null;

    public List<Method> All()
    {
        List<Method> methods =
        [
            new(HttpFetcher, "FetchAsync from 127.0.0.1 to a file: read + write on one thread ∥ sha256 on a dedicated thread (BackgroundSha256), compare, rename", Input.Payload, Goal: true, HttpFetchAsync),
            new(HttpCopy, "the same GET and 1 MiB read/write loop without the hash", Input.Payload, Goal: false, () => HttpCopyAsync(toFile: true)),
            new(HttpCeiling, "the fetcher's pipeline (4 × 1 MiB chunks, preallocated file, writes on a second thread) without the hash stage: the most any verifying HTTP path can do here", Input.Payload, Goal: false, HttpCeilingAsync),
            new(HttpDiscard, "the same GET, body read and dropped: loopback HTTP alone", Input.Payload, Goal: false, () => HttpCopyAsync(toFile: false)),
            new(CarExtract, "ExtractAsync from a FileStream: one pass, every block verified as it arrives, raw leaves handed to a writer thread", Input.Car, Goal: true, CarExtractAsync),
            new(CarVerifyOnly, "CarReader over the same FileStream: parse + verify every block, nothing written", Input.Car, Goal: false, CarVerifyOnlyAsync),
            new(Sha256sumPayload, "`sha256sum payload.bin`, timed as a process", Input.Payload, Goal: false, () => ProcessAsync("sha256sum", [setup.PayloadPath], setup.PayloadSha256), Baseline: Sha256sumPayload),
            new(Sha256sumCar, "`sha256sum bundle.car`, timed as a process", Input.Car, Goal: false, () => ProcessAsync("sha256sum", [setup.CarPath], setup.CarSha256), Baseline: Sha256sumCar),
            new(".NET SHA256, file (ref)", "SHA256.HashData(FileStream) over the payload file, in-process", Input.Payload, Goal: false, DotnetFileAsync),
            new(DotnetMemory, "SHA256.HashData over 256 KiB blocks already in memory: the hash alone", Input.Payload, Goal: false, DotnetMemoryAsync),
            // Prototypes of the changes bench/README.md proposes (bench code, not src/): how fast the paths could be.
            new(HttpPrevious, "the fetcher's pipeline before issue #4 (read | hash | write, hash and write as thread-pool stages, 4 × 1 MiB), kept verbatim in bench code for A/B in the same run", Input.Payload, Goal: false, HttpPreviousAsync),
            new(WhatIfCar, "prototype lower bound: CarReader (verify once), raw leaves written straight to the file, no spool, no re-hash", Input.Car, Goal: false, () => WhatIfCarAsync(overlap: false)),
            new(WhatIfCarOverlap, "the same, the file write of block n overlapping the read + verify of n+1", Input.Car, Goal: false, () => WhatIfCarAsync(overlap: true)),
        ];
        if (HaveOpenssl)
        {
            methods.Add(new("openssl dgst -sha256 (payload)", "`openssl dgst -sha256 payload.bin`, timed as a process", Input.Payload, Goal: false, () => ProcessAsync("openssl", ["dgst", "-sha256", setup.PayloadPath], setup.PayloadSha256)));
            methods.Add(new("openssl dgst -sha256 (CAR file)", "`openssl dgst -sha256 bundle.car`, timed as a process", Input.Car, Goal: false, () => ProcessAsync("openssl", ["dgst", "-sha256", setup.CarPath], setup.CarSha256)));
        }

        return methods;
    }

    private async Task<Sample> HttpFetchAsync()
    {
        string destination = Path.Combine(setup.WorkDirectory, $"fetched-{_sequence++}.tar");
        var reads = new CountingProgress<FetchProgress>();
        var fetcher = new HttpBundleFetcher(http);
        long start = Stopwatch.GetTimestamp();
        await fetcher.FetchAsync([bundleUri], setup.PayloadSha256, destination, maxBytes: setup.PayloadBytes * 2, admit: null, reads, CancellationToken.None).ConfigureAwait(false);
        double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        long length = new FileInfo(destination).Length;
        File.Delete(destination);
        if (length != setup.PayloadBytes)
            throw new InvalidOperationException($"HttpBundleFetcher wrote {length} bytes, not {setup.PayloadBytes}");
        return new Sample(seconds, Reads: reads.Count);
    }

    private async Task<Sample> HttpCopyAsync(bool toFile)
    {
        string destination = Path.Combine(setup.WorkDirectory, $"copied-{_sequence++}.tar");
        long start = Stopwatch.GetTimestamp();
        long total = 0;
        long reads = 0;
        using (HttpResponseMessage response = await http.GetAsync(bundleUri, HttpCompletionOption.ResponseHeadersRead).ConfigureAwait(false))
        {
            response.EnsureSuccessStatusCode();
            Stream body = await response.Content.ReadAsStreamAsync().ConfigureAwait(false);
            await using (body.ConfigureAwait(false))
            {
                // Exactly the fetcher's loop and file options, minus IncrementalHash.
                FileStream? file = toFile ? new FileStream(destination, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 0, useAsync: true) : null;
                byte[] buffer = new byte[1 << 20];
                while (true)
                {
                    int read = await body.ReadAsync(buffer).ConfigureAwait(false);
                    if (read == 0)
                        break;
                    total += read;
                    reads++;
                    if (file is not null)
                        await file.WriteAsync(buffer.AsMemory(0, read)).ConfigureAwait(false);
                }

                if (file is not null)
                {
                    await file.FlushAsync().ConfigureAwait(false);
                    await file.DisposeAsync().ConfigureAwait(false);
                }
            }
        }

        double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        if (toFile)
            File.Delete(destination);
        if (total != setup.PayloadBytes)
            throw new InvalidOperationException($"the GET delivered {total} bytes, not {setup.PayloadBytes}");
        return new Sample(seconds, Reads: reads);
    }

    /// <summary>The fetcher's read | write pipeline minus the hash: this thread fills 1 MiB chunks, a task writes them.</summary>
    private async Task<Sample> HttpCeilingAsync()
    {
        const int Ring = 4;
        string destination = Path.Combine(setup.WorkDirectory, $"ceiling-{_sequence++}.tar");
        long start = Stopwatch.GetTimestamp();
        long total = 0;
        long reads = 0;
        using (HttpResponseMessage response = await http.GetAsync(bundleUri, HttpCompletionOption.ResponseHeadersRead).ConfigureAwait(false))
        {
            response.EnsureSuccessStatusCode();
            long length = response.Content.Headers.ContentLength ?? 0;
            Stream body = await response.Content.ReadAsStreamAsync().ConfigureAwait(false);
            await using (body.ConfigureAwait(false))
            {
                using Microsoft.Win32.SafeHandles.SafeFileHandle file = File.OpenHandle(destination, FileMode.Create, FileAccess.Write, FileShare.None, FileOptions.None, length);
                var free = System.Threading.Channels.Channel.CreateUnbounded<byte[]>();
                var full = System.Threading.Channels.Channel.CreateUnbounded<(byte[] Buffer, int Length)>();
                for (int i = 0; i < Ring; i++)
                    free.Writer.TryWrite(new byte[1 << 20]);
                Task writing = Task.Run(async () =>
                {
                    long offset = 0;
                    await foreach ((byte[] buffer, int count) in full.Reader.ReadAllAsync().ConfigureAwait(false))
                    {
                        RandomAccess.Write(file, buffer.AsSpan(0, count), offset);
                        offset += count;
                        free.Writer.TryWrite(buffer);
                    }
                });
                bool ended = false;
                while (!ended)
                {
                    byte[] buffer = await free.Reader.ReadAsync().ConfigureAwait(false);
                    int filled = 0;
                    while (filled < buffer.Length)
                    {
                        int read = await body.ReadAsync(buffer.AsMemory(filled)).ConfigureAwait(false);
                        if (read == 0)
                        {
                            ended = true;
                            break;
                        }

                        filled += read;
                        reads++;
                    }

                    total += filled;
                    if (filled > 0)
                        full.Writer.TryWrite((buffer, filled));
                }

                full.Writer.TryComplete();
                await writing.ConfigureAwait(false);
            }
        }

        double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        File.Delete(destination);
        if (total != setup.PayloadBytes)
            throw new InvalidOperationException($"the GET delivered {total} bytes, not {setup.PayloadBytes}");
        return new Sample(seconds, Reads: reads);
    }

    private async Task<Sample> CarExtractAsync()
    {
        string output = Path.Combine(setup.WorkDirectory, $"extracted-{_sequence++}");
        var phases = new PhaseProgress();
        long start = Stopwatch.GetTimestamp();
        BundleSummary summary;
        var car = new FileStream(setup.CarPath, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 0, FileOptions.SequentialScan);
        await using (car.ConfigureAwait(false))
            summary = await CarBundleReader.ExtractAsync(setup.CarRoot, car, output, "bundle", maxBytes: setup.PayloadBytes * 2, phases, CancellationToken.None).ConfigureAwait(false);
        long end = Stopwatch.GetTimestamp();
        string file = Path.Combine(output, Setup.FileName);
        long length = new FileInfo(file).Length;
        if (setup.CheckNextExtraction)
        {
            // Once (in the warmup): the extracted file must be the payload, byte for byte.
            setup.CheckNextExtraction = false;
            if (Payload.HashFile(file) != setup.PayloadSha256)
                throw new InvalidOperationException("the extracted file does not hash to the payload's sha256: the CAR builder is wrong");
        }

        Directory.Delete(output, recursive: true);
        if (length != setup.PayloadBytes || summary.CarBytes != setup.CarBytes)
            throw new InvalidOperationException($"ExtractAsync wrote {length} bytes from {summary.CarBytes} CAR bytes; expected {setup.PayloadBytes} from {setup.CarBytes}");
        return new Sample(
            Stopwatch.GetElapsedTime(start, end).TotalSeconds,
            Receive: Stopwatch.GetElapsedTime(start, phases.LastReceiving).TotalSeconds,
            Write: Stopwatch.GetElapsedTime(phases.LastReceiving, end).TotalSeconds,
            Reads: summary.Blocks);
    }

    private async Task<Sample> CarVerifyOnlyAsync()
    {
        long start = Stopwatch.GetTimestamp();
        int blocks = 0;
        var car = new FileStream(setup.CarPath, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 0, FileOptions.SequentialScan);
        await using (car.ConfigureAwait(false))
        {
            var reader = new CarReader(car, long.MaxValue, leaveOpen: true);
            await using (reader.ConfigureAwait(false))
            {
                await reader.ReadHeaderAsync().ConfigureAwait(false);
                while (await reader.ReadBlockAsync().ConfigureAwait(false) is not null)
                    blocks++;
            }
        }

        double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        if (blocks != setup.CarBlocks)
            throw new InvalidOperationException($"CarReader read {blocks} blocks, not {setup.CarBlocks}");
        return new Sample(seconds, Reads: blocks);
    }

    /// <summary>
    /// HttpBundleFetcher's pipeline as it was before issue #4 (src/ at 15efee3), verbatim but for the names: this
    /// thread fills pooled 1 MiB chunks, a thread-pool task hashes them in order (IncrementalHash), another writes them
    /// (RandomAccess.Write into a file preallocated from Content-Length). Kept so a run compares old and new A/B.
    /// </summary>
    private async Task<Sample> HttpPreviousAsync()
    {
        const int ChunkBytes = 1 << 20;
        const int Chunks = 4;
        string destination = Path.Combine(setup.WorkDirectory, $"previous-{_sequence++}.tar");
        long start = Stopwatch.GetTimestamp();
        long total = 0;
        long reads = 0;
        Hash32 actual = default;
        using (HttpResponseMessage response = await http.GetAsync(bundleUri, HttpCompletionOption.ResponseHeadersRead).ConfigureAwait(false))
        {
            response.EnsureSuccessStatusCode();
            long length = response.Content.Headers.ContentLength ?? 0;
            using var sha256 = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            Stream body = await response.Content.ReadAsStreamAsync().ConfigureAwait(false);
            await using (body.ConfigureAwait(false))
            {
                using Microsoft.Win32.SafeHandles.SafeFileHandle file = File.OpenHandle(destination, FileMode.Create, FileAccess.Write, FileShare.None, FileOptions.None, length);
                var free = Channel.CreateUnbounded<byte[]>(new UnboundedChannelOptions { SingleReader = true });
                var toHash = Channel.CreateUnbounded<(byte[] Buffer, int Length)>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
                var toWrite = Channel.CreateUnbounded<(byte[] Buffer, int Length)>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
                for (int i = 0; i < Chunks; i++)
                    free.Writer.TryWrite(ArrayPool<byte>.Shared.Rent(ChunkBytes));
                Task hashing = Task.Run(async () =>
                {
                    await foreach ((byte[] buffer, int count) in toHash.Reader.ReadAllAsync().ConfigureAwait(false))
                    {
                        sha256.AppendData(buffer, 0, count);
                        toWrite.Writer.TryWrite((buffer, count));
                    }

                    toWrite.Writer.TryComplete();
                });
                Task writing = Task.Run(async () =>
                {
                    long offset = 0;
                    await foreach ((byte[] buffer, int count) in toWrite.Reader.ReadAllAsync().ConfigureAwait(false))
                    {
                        RandomAccess.Write(file, buffer.AsSpan(0, count), offset);
                        offset += count;
                        free.Writer.TryWrite(buffer);
                    }
                });
                bool ended = false;
                while (!ended)
                {
                    byte[] buffer = await free.Reader.ReadAsync().ConfigureAwait(false);
                    int filled = 0;
                    while (filled < ChunkBytes)
                    {
                        int read = await body.ReadAsync(buffer.AsMemory(filled, ChunkBytes - filled)).ConfigureAwait(false);
                        if (read == 0)
                        {
                            ended = true;
                            break;
                        }

                        filled += read;
                    }

                    total += filled;
                    reads++;
                    if (filled > 0)
                        toHash.Writer.TryWrite((buffer, filled));
                }

                toHash.Writer.TryComplete();
                await Task.WhenAll(hashing, writing).ConfigureAwait(false);
                while (free.Reader.TryRead(out byte[]? buffer))
                    ArrayPool<byte>.Shared.Return(buffer);
            }

            sha256.GetHashAndReset(actual);
        }

        double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        File.Delete(destination);
        if (total != setup.PayloadBytes || actual != setup.PayloadSha256)
            throw new InvalidOperationException("the previous pipeline got other bytes");
        return new Sample(seconds, Reads: reads);
    }

    /// <summary>
    /// A lower bound for a single-pass CAR extraction: every block verified once by CarReader, raw leaves appended to
    /// the file as they arrive (they come in DAG order), dag-pb nodes kept in memory; no spool, no second hash, no
    /// DAG checks. With <paramref name="overlap"/>, the block is copied and its write overlaps the next read.
    /// </summary>
    private async Task<Sample> WhatIfCarAsync(bool overlap)
    {
        string destination = Path.Combine(setup.WorkDirectory, $"whatif-{_sequence++}.tar");
        long start = Stopwatch.GetTimestamp();
        long written = 0;
        var nodes = new Dictionary<Cid, byte[]>();
        var car = new FileStream(setup.CarPath, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 0, FileOptions.SequentialScan);
        await using (car.ConfigureAwait(false))
        {
            var file = new FileStream(destination, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 0, useAsync: overlap);
            await using (file.ConfigureAwait(false))
            {
                var reader = new CarReader(car, long.MaxValue, leaveOpen: true);
                await using (reader.ConfigureAwait(false))
                {
                    await reader.ReadHeaderAsync().ConfigureAwait(false);
                    byte[][] copies = overlap ? [new byte[CarReader.MaxBlockBytes], new byte[CarReader.MaxBlockBytes]] : [];
                    Task pending = Task.CompletedTask;
                    int n = 0;
                    while (await reader.ReadBlockAsync().ConfigureAwait(false) is CarBlock block)
                    {
                        if (block.Cid.Codec == CidCodec.DagPb)
                        {
                            nodes[block.Cid] = block.Data.ToArray();
                            continue;
                        }

                        written += block.Data.Length;
                        if (!overlap)
                        {
                            await file.WriteAsync(block.Data).ConfigureAwait(false);
                            continue;
                        }

                        await pending.ConfigureAwait(false);
                        byte[] copy = copies[n++ & 1];
                        block.Data.CopyTo(copy);
                        pending = file.WriteAsync(copy.AsMemory(0, block.Data.Length)).AsTask();
                    }

                    await pending.ConfigureAwait(false);
                }
            }
        }

        double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        File.Delete(destination);
        if (written != setup.PayloadBytes || nodes.Count != setup.CarBlocks - setup.Car.Leaves)
            throw new InvalidOperationException($"the CAR prototype wrote {written} bytes and kept {nodes.Count} nodes");
        return new Sample(seconds, Reads: setup.CarBlocks);
    }

    private Task<Sample> DotnetFileAsync()
    {
        long start = Stopwatch.GetTimestamp();
        Hash32 digest = Payload.HashFile(setup.PayloadPath);
        double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        if (digest != setup.PayloadSha256)
            throw new InvalidOperationException(".NET SHA256 over the payload file gave another digest");
        return Task.FromResult(new Sample(seconds));
    }

    /// <summary>As many 256 KiB block hashes as the payload has bytes, over a 32 MiB buffer that stays in cache-warm memory.</summary>
    private Task<Sample> DotnetMemoryAsync()
    {
        const int Block = 256 * 1024;
        Span<byte> digest = stackalloc byte[32];
        long start = Stopwatch.GetTimestamp();
        for (long done = 0; done < setup.PayloadBytes; done += Block)
        {
            int at = (int)(done % _memory.Length);
            int size = (int)Math.Min(Block, setup.PayloadBytes - done);
            SHA256.HashData(_memory.AsSpan(at, size), digest);
        }

        return Task.FromResult(new Sample(Stopwatch.GetElapsedTime(start).TotalSeconds));
    }

    private static async Task<Sample> ProcessAsync(string program, string[] arguments, Hash32 expected)
    {
        var info = new ProcessStartInfo(program) { RedirectStandardOutput = true, UseShellExecute = false };
        foreach (string argument in arguments)
            info.ArgumentList.Add(argument);
        long start = Stopwatch.GetTimestamp();
        using Process process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {program}");
        string output = await process.StandardOutput.ReadToEndAsync().ConfigureAwait(false);
        await process.WaitForExitAsync().ConfigureAwait(false);
        double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        if (process.ExitCode != 0 || !output.Contains(Setup.Hex(expected), StringComparison.Ordinal))
            throw new InvalidOperationException($"{program} {string.Join(' ', arguments)} exited {process.ExitCode} and printed '{output.Trim()}', not sha256 {expected}");
        return new Sample(seconds);
    }

    private static byte[] MemoryBlock(long payloadBytes)
    {
        byte[] memory = new byte[(int)Math.Min(payloadBytes, 32L << 20)];
        new Random(42).NextBytes(memory);
        return memory;
    }

    internal static string? Which(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(folder => Path.Combine(folder, program)).FirstOrDefault(File.Exists);

    /// <summary>Counts reports, synchronously (a Progress&lt;T&gt; would post each one to the thread pool).</summary>
    private sealed class CountingProgress<T> : IProgress<T>
    {
        public long Count { get; private set; }

        public void Report(T value) => Count++;
    }

    /// <summary>Remembers when the last block was received, to split the extraction into its two phases.</summary>
    private sealed class PhaseProgress : IProgress<BundleProgress>
    {
        public long LastReceiving { get; private set; }

        public void Report(BundleProgress value)
        {
            if (value.Stage == BundleStage.Receiving)
                LastReceiving = Stopwatch.GetTimestamp();
        }
    }
}
