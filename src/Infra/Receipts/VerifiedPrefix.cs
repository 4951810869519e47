using System.Buffers.Binary;
using System.Globalization;
using System.IO.Hashing;
using System.Text;

namespace InfraMind.Node.Receipts;

/// <summary>
/// The first <see cref="Length"/> bytes of a receipt log, named by a chain of hashes over its records: chain₀ = 0,
/// chainₙ = XxHash128(chainₙ₋₁ ‖ XxHash128(recordₙ)). Opening the log checks every receipt's and rejection's
/// signature (an ECDSA recovery, about 200 µs), which made a start take minutes once the log held a million records.
/// The log keeps its verified prefix in <see cref="FileName"/> beside it; a start that finds the file's first bytes
/// still chaining to the same value knows it checked those records before, and checks only the ones after them.
/// </summary>
/// <remarks>
/// This guards against what the check at start is for: records the node did not write (a file copied in or edited, a
/// bug in an older version), and the disk, which the records' CRCs catch as well. It is no defence against someone who
/// can write to the state folder, who can rewrite this file too; no check at start is, since they can also remove
/// records. XxHash128 is enough for that: a changed record goes unnoticed with a chance of 2⁻¹²⁸.
/// </remarks>
internal readonly record struct VerifiedPrefix(long Length, UInt128 Chain)
{
    public const string FileName = "receipts.verified";

    /// <summary>Written as one line: the format's version, the length and the chain in hex.</summary>
    private const string Version = "v1";

    /// <summary>The prefix one more record long.</summary>
    public VerifiedPrefix Extend(ReadOnlySpan<byte> record)
    {
        Span<byte> link = stackalloc byte[32];
        BinaryPrimitives.WriteUInt128LittleEndian(link, Chain);
        BinaryPrimitives.WriteUInt128LittleEndian(link[16..], XxHash128.HashToUInt128(record));
        return new VerifiedPrefix(Length + record.Length, XxHash128.HashToUInt128(link));
    }

    /// <summary>
    /// The prefix saved in <paramref name="directory"/> when the log read through <paramref name="log"/> still starts
    /// with it; the empty prefix (nothing verified) otherwise. What a start of the agent and the CLI's snapshot trust.
    /// </summary>
    public static VerifiedPrefix LoadMatching(string directory, LogWindow log)
    {
        VerifiedPrefix saved = Load(directory);
        return saved.Length > 0 && saved.Matches(log) ? saved : default;
    }

    /// <summary>
    /// Whether the log read through <paramref name="log"/> still starts with this prefix: whole valid records up to
    /// exactly <see cref="Length"/>, chaining to <see cref="Chain"/>.
    /// </summary>
    public bool Matches(LogWindow log)
    {
        if (Length > log.ContentEnd)
            return false;
        var chain = default(VerifiedPrefix);
        while (chain.Length < Length)
        {
            ReadOnlySpan<byte> data = log.At(chain.Length);
            if (LogRecord.TryRead(data, out _, out _, out int size) != LogRecordStatus.Ok)
                return false;
            chain = chain.Extend(data[..size]);
        }

        return chain == this;
    }

    /// <summary>The prefix saved in <paramref name="directory"/>; the empty prefix when there is none or it does not read.</summary>
    public static VerifiedPrefix Load(string directory)
    {
        string text;
        try
        {
            var file = new FileInfo(Path.Combine(directory, FileName));
            if (!file.Exists || file.Length > 128)
                return default;
            text = File.ReadAllText(file.FullName, Encoding.ASCII);
        }
        catch (IOException)
        {
            return default;
        }
        catch (UnauthorizedAccessException)
        {
            return default;
        }

        return TryParse(text, out VerifiedPrefix prefix) ? prefix : default;
    }

    /// <summary><c>v1 LENGTH CHAIN\n</c>, LENGTH in decimal and CHAIN as 32 hex digits; nothing else reads.</summary>
    internal static bool TryParse(string text, out VerifiedPrefix prefix)
    {
        prefix = default;
        string[] fields = text.Split(' ');
        if (fields.Length != 3 || fields[0] != Version || !fields[2].EndsWith('\n'))
            return false;
        string chain = fields[2][..^1];
        if (!long.TryParse(fields[1], NumberStyles.None, CultureInfo.InvariantCulture, out long length) || length <= 0
            || chain.Length != 32 || !UInt128.TryParse(chain, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out UInt128 value))
            return false;
        prefix = new VerifiedPrefix(length, value);
        return true;
    }

    internal string Format() => string.Create(CultureInfo.InvariantCulture, $"{Version} {Length} {Chain:x32}\n");

    /// <summary>
    /// Replaces the saved prefix (a new file renamed over the old one, so a crash leaves one or the other). Not
    /// fsynced: the records it names are durable already, and a lost or torn file only means more checking at the next
    /// start. A failure is ignored for the same reason.
    /// </summary>
    public void Save(string directory)
    {
        string path = Path.Combine(directory, FileName);
        string temporary = path + ".new";
        try
        {
            File.WriteAllText(temporary, Format(), Encoding.ASCII);
            File.Move(temporary, path, overwrite: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
