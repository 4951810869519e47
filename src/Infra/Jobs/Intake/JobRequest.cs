using System.Text;
using InfraMind.Node.Crypto;
using InfraMind.Node.Crypto.Eip712;

namespace InfraMind.Node.Jobs.Intake;

/// <summary>
/// A job as a scheduler signed it (CONTRACT.md §3), from <c>POST /v1/jobs</c> or the mesh stream. The schema
/// strings are the exact text that was signed: a short type itself, or a JSON Schema's compact JSON.
/// </summary>
public sealed record JobRequest(
    string JobId,
    string ModelHash,
    string ContainerUri,
    string Entrypoint,
    string InputSchema,
    string OutputSchema,
    string Input,
    ulong Deadline,
    Address Node,
    Address Scheduler,
    byte[] Signature)
{
    public const int MaxJobIdLength = 128;
    public const int MaxModelHashLength = 128;
    public const int MaxUriLength = 2048;
    public const int MaxEntrypointLength = 512;
    public const int MaxSchemaBytes = 64 * 1024;

    /// <summary>The struct the scheduler signed; inputHash is keccak256 of the input's UTF-8 bytes.</summary>
    public JobStruct ToStruct() => new(
        JobId, ModelHash, ContainerUri, Entrypoint, InputSchema, OutputSchema,
        Keccak256.Hash(Encoding.UTF8.GetBytes(Input)), Deadline, Node);

    /// <summary>
    /// Job ids end up in container names and labels, so they are kept to a safe alphabet
    /// (letters, digits and <c>-_.:</c>), which every scheduler id format seen so far fits.
    /// </summary>
    public static bool IsValidJobId(ReadOnlySpan<char> id)
    {
        if (id.IsEmpty || id.Length > MaxJobIdLength)
            return false;
        foreach (char c in id)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or ':'))
                return false;
        }

        return true;
    }
}
