using InfraMind.Node.Crypto;
using InfraMind.Node.Models.Content;

namespace InfraMind.Node.BundleBench;

/// <summary>The inputs every method shares: the payload, its CAR and their digests.</summary>
internal sealed class Setup
{
    /// <summary>The name the payload has inside the CAR's directory (and on the HTTP server).</summary>
    public const string FileName = "bundle.tar";

    public required string WorkDirectory { get; init; }

    public required string PayloadPath { get; init; }

    public required long PayloadBytes { get; init; }

    public required Hash32 PayloadSha256 { get; init; }

    public required string CarPath { get; init; }

    public required Cid CarRoot { get; init; }

    public required long CarBytes { get; init; }

    public required int CarBlocks { get; init; }

    public required Hash32 CarSha256 { get; init; }

    public required CarInfo Car { get; init; }

    /// <summary>A digest as sha256sum prints it: lowercase hex, no prefix.</summary>
    public static string Hex(Hash32 digest) => Convert.ToHexStringLower(digest);

    /// <summary>Set for the warmup: the next extraction is hashed and compared with the payload.</summary>
    public bool CheckNextExtraction { get; set; } = true;

    public static Setup Create(string workDirectory, long payloadBytes, Action<string> log)
    {
        Directory.CreateDirectory(workDirectory);
        string payload = Path.Combine(workDirectory, "payload.bin");
        string car = Path.Combine(workDirectory, "bundle.car");
        DateTime started = DateTime.UtcNow;
        Hash32 payloadSha256 = Payload.Write(payload, payloadBytes, seed: 0x1F2E3D4C5B6A7988UL);
        log($"payload: {payload}, {payloadBytes:N0} bytes (xorshift64*), sha256 {Hex(payloadSha256)} ({(DateTime.UtcNow - started).TotalSeconds:0.0} s)");

        started = DateTime.UtcNow;
        CarInfo info = CarFileBuilder.Build(payload, car, FileName);
        // The root goes through its text form, as it would arrive in a job.
        Cid root = Cid.Parse(info.Root.ToString());
        Hash32 carSha256 = Payload.HashFile(car);
        log($"CAR: {car}, {info.CarBytes:N0} bytes, {info.Blocks} blocks ({info.Leaves} raw 256 KiB leaves, {info.InternalNodes} dag-pb file nodes, file depth {info.FileDepth}, 1 directory), root {root} ({(DateTime.UtcNow - started).TotalSeconds:0.0} s)");
        return new Setup
        {
            WorkDirectory = workDirectory,
            PayloadPath = payload,
            PayloadBytes = payloadBytes,
            PayloadSha256 = payloadSha256,
            CarPath = car,
            CarRoot = root,
            CarBytes = info.CarBytes,
            CarBlocks = info.Blocks,
            CarSha256 = carSha256,
            Car = info,
        };
    }
}
