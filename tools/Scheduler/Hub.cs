using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Google.Protobuf;
using InfraMind.Node.Crypto;
using InfraMind.Node.Crypto.Eip712;
using Wire = InfraMind.Node.Protos.Mesh;

namespace InfraMind.Scheduler;

/// <summary>One thing the scheduler saw or did, for tests and demos (GET /admin/events).</summary>
public sealed record SchedulerEvent(
    string Kind, long AtMs, int Conn, string? Node = null, string? JobId = null, bool? Valid = null, string? Detail = null, double? LatencyMs = null);

/// <summary>One node's stream: its outbox (drained by one writer) and the misbehaviour switches that apply to it.</summary>
public sealed class Connection(int id, CancellationToken aborted)
{
    public int Id { get; } = id;

    public Address Node { get; set; }

    public Channel<Wire.SchedulerMessage> Outbox { get; } = Channel.CreateUnbounded<Wire.SchedulerMessage>();

    /// <summary>Stalled: nothing more is sent, the stream stays open.</summary>
    private volatile bool _stalled;

    public bool Stalled
    {
        get => _stalled;
        set => _stalled = value;
    }

    public CancellationToken Aborted { get; } = aborted;

    public Action? Drop { get; set; }

    public ConcurrentDictionary<string, long> JobSentAt { get; } = new(StringComparer.Ordinal);

    public void Send(Wire.SchedulerMessage message) => Outbox.Writer.TryWrite(message);
}

/// <summary>The scheduler's state: its key, the connected nodes, stored receipts and the event record.</summary>
public sealed class Hub : IDisposable
{
    // snake_case field names, as the proto and CONTRACT.md §7 spell them.
    private static readonly JsonFormatter ProtoNames = new(JsonFormatter.Settings.Default.WithPreserveProtoFieldNames(true));

    private readonly NodeKey _key;
    private readonly Lock _gate = new();
    private readonly List<SchedulerEvent> _events = [];
    private readonly HashSet<string> _stored = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<int, Connection> _connections = new();
    private int _nextId;

    public Hub(SchedulerOptions options)
    {
        Options = options;
        Domain = new Eip712Domain(options.ChainId);
        byte[] secret = new byte[32];
        if (options.KeyFile is not null && File.Exists(options.KeyFile))
        {
            if (!Hex.TryDecode(File.ReadAllText(options.KeyFile).Trim(), secret))
                throw new ArgumentException($"{options.KeyFile} does not hold 64 hex characters");
            if (!NodeKey.TryCreate(secret, out NodeKey? key))
                throw new ArgumentException($"{options.KeyFile} is not a valid secp256k1 key");
            _key = key!;
        }
        else
        {
            _key = NodeKey.Generate(secret);
            if (options.KeyFile is not null)
                File.WriteAllText(options.KeyFile, Hex.Encode(secret));
        }

        Array.Clear(secret);
        _withholdAcks = options.WithholdAcks;
        if (options.ReceiptsFile is not null && File.Exists(options.ReceiptsFile))
        {
            foreach (string line in File.ReadLines(options.ReceiptsFile))
            {
                using JsonDocument doc = JsonDocument.Parse(line);
                _stored.Add(doc.RootElement.GetProperty("job_id").GetString()!);
            }
        }
    }

    public SchedulerOptions Options { get; }

    public Eip712Domain Domain { get; }

    public Address Address => _key.Address;

    private volatile bool _withholdAcks;

    public bool WithholdAcks
    {
        get => _withholdAcks;
        set => _withholdAcks = value;
    }

    public IEnumerable<Connection> Connections => _connections.Values;

    public Connection Open(CancellationToken aborted)
    {
        var connection = new Connection(Interlocked.Increment(ref _nextId), aborted);
        _connections[connection.Id] = connection;
        return connection;
    }

    public void Close(Connection connection) => _connections.TryRemove(connection.Id, out _);

    public void Record(SchedulerEvent e)
    {
        lock (_gate)
            _events.Add(e);
    }

    public SchedulerEvent[] Events()
    {
        lock (_gate)
            return [.. _events];
    }

    public static long NowMs() => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

    /// <summary>Signs a job for <paramref name="node"/>; a bad signature is a real one with a byte flipped.</summary>
    public Wire.Job SignJob(JobDraft draft, Address node)
    {
        Address target = draft.Node is not null && Address.TryParse(draft.Node, out Address named) ? named : node;
        var job = new Wire.Job
        {
            JobId = draft.JobId,
            ModelHash = draft.ModelHash ?? "sha256:" + new string('0', 64),
            ContainerUri = draft.ContainerUri ?? "http://127.0.0.1/bundle.tar",
            Entrypoint = draft.Entrypoint ?? "serve.py",
            ExpectedSchema = new Wire.ExpectedSchema { Input = draft.ExpectedSchema?.Input ?? "text", Output = draft.ExpectedSchema?.Output ?? "text" },
            Input = draft.Input ?? "hello",
            Deadline = draft.Deadline ?? (ulong)DateTimeOffset.UtcNow.AddMinutes(5).ToUnixTimeSeconds(),
            Node = target.ToString(),
            Scheduler = _key.Address.ToString(),
        };
        Hash32 digest = Domain.Digest(new JobStruct(job.JobId, job.ModelHash, job.ContainerUri, job.Entrypoint, job.ExpectedSchema.Input,
            job.ExpectedSchema.Output, Keccak256.Hash(Encoding.UTF8.GetBytes(job.Input)), job.Deadline, target));
        byte[] signature = new byte[EthSignature.Size];
        _key.Sign(digest, signature);
        if (draft.BadSignature == true)
            signature[5] ^= 0x5a;
        job.Signature = ByteString.CopyFrom(signature);
        return job;
    }

    /// <summary>Stores a verified receipt once (JSON lines, flushed to disk); false when it was already stored.</summary>
    public bool Store(Wire.Receipt receipt)
    {
        lock (_gate)
        {
            if (!_stored.Add(receipt.JobId))
                return false;
            if (Options.ReceiptsFile is not null)
            {
                using var file = new FileStream(Options.ReceiptsFile, FileMode.Append, FileAccess.Write, FileShare.Read);
                file.Write(Encoding.UTF8.GetBytes(ProtoNames.Format(receipt) + "\n"));
                file.Flush(flushToDisk: true);
            }

            return true;
        }
    }

    public int StoredCount
    {
        get
        {
            lock (_gate)
                return _stored.Count;
        }
    }

    public void Dispose() => _key.Dispose();
}
