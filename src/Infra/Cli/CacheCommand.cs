using System.Globalization;
using InfraMind.Node.Configuration;
using InfraMind.Node.Models.Cache;

namespace InfraMind.Node.Cli;

/// <summary>`infra cache ls|prune|pin|unpin`: the bundle cache on this host.</summary>
public static class CacheCommand
{
    public static readonly CommandSpec Spec = new(
        "cache",
        "list, prune and pin the model bundle cache",
        "infra cache ls | prune [--to SIZE] | pin KEY | unpin KEY  [--config PATH]",
        [
            new("--to", "SIZE", "prune: evict least recently used unpinned bundles down to this size (default 0)"),
            new("--json", null, "ls: print JSON lines instead of a table"),
            new("--config", "PATH", "configuration file (cache.dir, cache.max_bytes)"),
            new("--help", null, "show this help"),
        ],
        Run)
    {
        TakesArguments = true,
    };

    private static int Run(ParsedArguments args)
    {
        if (args.Positionals.Count == 0)
            ThrowHelper.ThrowUsage("infra cache: say what to do: ls, prune, pin KEY or unpin KEY");
        NodeConfig config = Program.LoadConfig(args);
        BundleCache cache;
        try
        {
            cache = new BundleCache(config.CacheDir, config.Cache.MaxBytes);
        }
        catch (CacheException e)
        {
            ThrowHelper.ThrowRuntime(e.Message, e);
            return 1;
        }

        string action = args.Positionals[0];
        switch (action)
        {
            case "ls":
                List(cache, args.Has("--json"));
                return 0;
            case "prune":
                long target = 0;
                if (args.Value("--to") is { } to && !ByteSize.TryParse(to, out target))
                    ThrowHelper.ThrowUsage($"infra cache prune: --to expects a size such as 5Gi, got '{to}'");
                IReadOnlyList<CacheEntry> evicted = cache.Prune(target);
                foreach (CacheEntry entry in evicted)
                    Console.Out.WriteLine($"evicted {entry.Key} ({ByteSize.Format(entry.Bytes)})");
                Console.Out.WriteLine($"{evicted.Count} bundle(s) evicted; {ByteSize.Format(cache.TotalBytes)} of {ByteSize.Format(cache.BudgetBytes)} in use");
                return 0;
            case "pin" or "unpin":
                if (args.Positionals.Count != 2)
                    ThrowHelper.ThrowUsage($"infra cache {action}: give the bundle's key (see `infra cache ls`)");
                if (!cache.Pin(args.Positionals[1], action == "pin"))
                    ThrowHelper.ThrowRuntime($"no cached bundle {args.Positionals[1]}; see `infra cache ls`");
                Console.Out.WriteLine($"{action}ned {args.Positionals[1]}");
                return 0;
            default:
                ThrowHelper.ThrowUsage($"infra cache: unknown action '{action}'; use ls, prune, pin or unpin");
                return 2;
        }
    }

    private static void List(BundleCache cache, bool json)
    {
        IReadOnlyList<CacheEntry> entries = cache.List();
        if (json)
        {
            foreach (CacheEntry e in entries)
                Console.Out.WriteLine(System.Text.Json.JsonSerializer.Serialize(e, CacheCliJson.Default.CacheEntry));
            return;
        }

        Console.Out.WriteLine($"{"KEY",-62} {"SIZE",9} {"USES",5} {"LAST USED",-20} {"PIN",-3} IMAGE");
        foreach (CacheEntry e in entries)
        {
            string used = e.LastUsedUnixMs == 0 ? "-" : DateTimeOffset.FromUnixTimeMilliseconds(e.LastUsedUnixMs).ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);
            Console.Out.WriteLine($"{e.Key,-62} {ByteSize.Format(e.Bytes),9} {e.Uses,5} {used,-20} {(e.Pinned ? "yes" : "no"),-3} {e.ImageName ?? e.ImageId ?? "-"}");
        }

        Console.Out.WriteLine($"{entries.Count} bundle(s), {ByteSize.Format(cache.TotalBytes)} of {ByteSize.Format(cache.BudgetBytes)} budget, in {cache.Root}");
    }
}

[System.Text.Json.Serialization.JsonSourceGenerationOptions(PropertyNamingPolicy = System.Text.Json.Serialization.JsonKnownNamingPolicy.SnakeCaseLower)]
[System.Text.Json.Serialization.JsonSerializable(typeof(CacheEntry))]
internal sealed partial class CacheCliJson : System.Text.Json.Serialization.JsonSerializerContext;
