using System.Globalization;
using InfraMind.Node.Crypto;
using InfraMind.Node.Receipts;

// Usage: Infra.ReceiptLogCrash <log dir> <first index> <count>
// Appends receipts job-<i> and prints each job id only after Append has returned (fsync done). The test
// kills this process at a random moment and then checks every printed id is in the log exactly once.
if (args.Length != 3)
{
    Console.Error.WriteLine("usage: Infra.ReceiptLogCrash <log dir> <first index> <count>");
    return 2;
}

string dir = args[0];
int first = int.Parse(args[1], CultureInfo.InvariantCulture);
int count = int.Parse(args[2], CultureInfo.InvariantCulture);

byte[] secret = Convert.FromHexString("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318");
if (!NodeKey.TryCreate(secret, out NodeKey? key))
    return 1;
var signer = new ReceiptSigner(key!, 31337);
using ReceiptLog log = ReceiptLog.Open(dir);
Console.Out.WriteLine($"recovered {log.All.Count} tail={log.Recovery.TailBytesDropped} intact={log.Recovery.MiddleIntact}");
Console.Out.Flush();

for (int i = first; i < first + count; i++)
{
    string jobId = $"job-{i}";
    Hash32 jobHash = Keccak256.Hash(System.Text.Encoding.UTF8.GetBytes(jobId));
    SignedReceipt receipt = signer.Sign(new Receipt(
        jobId, jobHash, "sha256:crash", jobHash, jobHash, ReceiptStatus.Succeeded,
        (ulong)i, 1_700_000_000, 1_700_000_001, 7, 1 << 20, default, 1_700_000_001 + (ulong)i));
    log.Append(receipt);
    Console.Out.WriteLine(jobId);
    Console.Out.Flush();
}

return 0;
