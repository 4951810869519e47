using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Json.Schema;

namespace InfraMind.Node.Jobs.Validation;

/// <summary>
/// A JSON Schema draft-07 document, evaluated by JsonSchema.Net. Before the library sees it the document is held to
/// the node's own rules: at most 64 KiB, at most 32 levels deep, an object, <c>$schema</c> absent or draft-07,
/// every <c>$ref</c> a fragment of this document that resolves, every <c>pattern</c> a valid ECMAScript regex.
/// </summary>
internal sealed class JsonSchemaDocument : SchemaSpec
{
    public const int MaxSchemaBytes = 64 * 1024;
    public const int MaxSchemaDepth = 32;

    /// <summary>Longest run of schemas applied to the same value ($ref, allOf, not, ...) before the value descends.</summary>
    public const int MaxInPlaceChain = 8;

    // JsonSchema.Net builds its pattern regexes with no match timeout. The node runs its own copies, with a
    // timeout, over every string and property name of a value first, so a backtracking pattern is caught here
    // and never reaches the library's unbounded match.
    private static readonly TimeSpan MatchTimeout = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan PatternBudget = TimeSpan.FromSeconds(1);

    private readonly JsonSchema _schema;
    private readonly Regex[] _patterns;

    // JsonSchema.Net checks uniqueItems pairwise (quadratic): with it in the schema, longer arrays are refused
    // before evaluation rather than letting one output hold the node for minutes.
    public const int MaxUniqueItemsArray = 4096;
    private readonly bool _usesUniqueItems;

    // JsonSchema.Net 7.4.0 is not safe for concurrent Evaluate calls on one schema (json-everything #929, #693):
    // one options instance per schema, and one evaluation at a time.
    private readonly EvaluationOptions _options = new() { EvaluateAs = SpecVersion.Draft7, OutputFormat = OutputFormat.List };
    private readonly Lock _gate = new();

    private JsonSchemaDocument(string text, ValidationLimits limits, JsonSchema schema, Regex[] patterns, bool usesUniqueItems)
        : base(text, SchemaKind.JsonSchema, limits)
    {
        _schema = schema;
        _patterns = patterns;
        _usesUniqueItems = usesUniqueItems;
    }

    public static JsonSchemaDocument Create(string text, ValidationLimits limits)
    {
        byte[] utf8 = Encoding.UTF8.GetBytes(text);
        if (utf8.Length > MaxSchemaBytes)
            SchemaThrow.Throw(SchemaError.TooLarge, $"the JSON Schema is {utf8.Length} bytes, over the {MaxSchemaBytes}-byte limit: simplify it");
        ValidationResult scan = JsonScan.WellFormed(utf8, MaxSchemaDepth, "the JSON Schema");
        if (!scan.IsValid)
            SchemaThrow.Throw(scan.Reason == ValidationReason.TooLarge ? SchemaError.TooLarge : SchemaError.Malformed, scan.Message!);

        JsonNode? root;
        try
        {
            root = JsonNode.Parse(utf8, documentOptions: new JsonDocumentOptions { MaxDepth = MaxSchemaDepth + 1, AllowDuplicateProperties = false });
        }
        catch (JsonException e)
        {
            return SchemaThrow.Throw<JsonSchemaDocument>(SchemaError.Malformed, $"the JSON Schema is not valid JSON ({e.Message}): send its compact JSON text", e);
        }

        if (root is not JsonObject rootObject)
            return SchemaThrow.Throw<JsonSchemaDocument>(SchemaError.Malformed, "a JSON Schema must be a JSON object: write {\"type\": ...}");

        if (rootObject.TryGetPropertyValue("$schema", out JsonNode? draft) && !IsDraft07(draft))
            SchemaThrow.Throw(SchemaError.UnsupportedDraft, $"$schema {Shorten(draft?.ToJsonString() ?? "null")} is not draft-07: use \"http://json-schema.org/draft-07/schema#\" or leave $schema out");

        var patterns = new List<Regex>();
        var walker = new Walker(rootObject, patterns);
        walker.Schema(rootObject);
        walker.CheckInPlaceChains();

        JsonSchema schema;
        try
        {
            schema = JsonSchema.FromText(text);
        }
        catch (Exception e) when (e is JsonException or JsonSchemaException or ArgumentException or InvalidOperationException or FormatException)
        {
            return SchemaThrow.Throw<JsonSchemaDocument>(SchemaError.Malformed, $"the JSON Schema is not a valid draft-07 schema: {Shorten(e.Message)}", e);
        }

        return new JsonSchemaDocument(text, limits, schema, [.. patterns], walker.UsesUniqueItems);
    }

    public override ValidationResult Validate(ReadOnlySpan<byte> value)
    {
        ValidationResult check = JsonScan.CheckBytes(value, Limits.MaxBytes, "the value");
        if (check.IsValid)
            check = JsonScan.WellFormed(value, Limits.MaxDepth, "the value");
        if (!check.IsValid)
            return check;

        JsonNode? node;
        try
        {
            // Duplicate names are refused here: JsonObject would otherwise throw mid-evaluation.
            node = JsonNode.Parse(value, documentOptions: new JsonDocumentOptions { MaxDepth = Limits.MaxDepth + 1, AllowDuplicateProperties = false });
            if (_patterns.Length > 0 || _usesUniqueItems)
            {
                ValidationResult guard = new ValueGuard(_patterns, _usesUniqueItems ? MaxUniqueItemsArray : int.MaxValue).Check(node, "");
                if (!guard.IsValid)
                    return guard;
            }

            EvaluationResults results;
            lock (_gate)
                results = _schema.Evaluate(node, _options);
            return results.IsValid ? ValidationResult.Valid : FirstError(results);
        }
        catch (JsonException e)
        {
            return ValidationResult.Fail(ValidationReason.Malformed, $"the value is not usable JSON ({Shorten(e.Message)}): write each property name once");
        }
        catch (JsonSchemaException e)
        {
            return ValidationResult.Fail(ValidationReason.SchemaViolation, $"the schema could not be evaluated on the value: {Shorten(e.Message)}");
        }
    }

    /// <summary>The first failing unit of the List output: where in the value, and the library's words for it.</summary>
    private static ValidationResult FirstError(EvaluationResults results)
    {
        EvaluationResults? failing = results.HasErrors ? results : null;
        if (failing is null && results.HasDetails)
        {
            foreach (EvaluationResults detail in results.Details)
            {
                if (detail.HasErrors)
                {
                    failing = detail;
                    break;
                }
            }
        }

        string location = failing?.InstanceLocation.ToString() ?? "";
        string error = "it does not match";
        if (failing?.Errors is { Count: > 0 } errors)
        {
            foreach (KeyValuePair<string, string> pair in errors)
            {
                error = $"{pair.Key}: {pair.Value}";
                break;
            }
        }

        return ValidationResult.Fail(ValidationReason.SchemaViolation, $"the value at {(location.Length == 0 ? "/" : location)} fails its JSON Schema ({Shorten(error)})");
    }

    private static bool IsDraft07(JsonNode? node) =>
        node is JsonValue value && value.TryGetValue(out string? uri)
        && uri.TrimEnd('#') is "http://json-schema.org/draft-07/schema" or "https://json-schema.org/draft-07/schema";

    internal static string Shorten(string text) => text.Length <= 200 ? text : text[..200] + "...";

    /// <summary>
    /// Walks the document keyword by keyword, so a <c>$ref</c> or <c>pattern</c> inside <c>enum</c>/<c>const</c>
    /// data, or a property that happens to be named "$ref", is not mistaken for a keyword.
    /// </summary>
    private readonly struct Walker(JsonObject root, List<Regex> patterns)
    {
        private readonly HashSet<JsonNode> _visited = new(ReferenceEqualityComparer.Instance);

        // JsonSchema.Net recurses through $ref without a guard for a schema that reaches itself without descending
        // into the value ({"$ref":"#"} overflowed the stack and killed the process when measured). So every schema's
        // in-place successors are kept, and a loop among them, or a chain over MaxInPlaceChain, is refused.
        private readonly Dictionary<JsonObject, List<JsonObject>> _inPlace = new(ReferenceEqualityComparer.Instance);
        private readonly StrongBox<bool> _uniqueItems = new();

        public bool UsesUniqueItems => _uniqueItems.Value;

        public void Schema(JsonNode? node)
        {
            // Boolean schemas and non-objects carry no keywords; the library reports wrong shapes itself.
            if (node is not JsonObject schema || !_visited.Add(schema))
                return;
            var inPlace = new List<JsonObject>();
            _inPlace[schema] = inPlace;
            foreach ((string keyword, JsonNode? value) in schema)
            {
                switch (keyword)
                {
                    case "$ref" when value is JsonValue reference && reference.TryGetValue(out string? target):
                        JsonNode? resolved = Resolve(target);
                        AddInPlace(inPlace, resolved);
                        Schema(resolved);
                        break;
                    case "allOf" or "anyOf" or "oneOf" when value is JsonArray list:
                        foreach (JsonNode? sub in list)
                        {
                            AddInPlace(inPlace, sub);
                            Schema(sub);
                        }

                        break;
                    case "not" or "if" or "then" or "else":
                        AddInPlace(inPlace, value);
                        Schema(value);
                        break;
                    case "dependencies" when value is JsonObject map:
                        foreach ((_, JsonNode? sub) in map)
                        {
                            AddInPlace(inPlace, sub);
                            Schema(sub);
                        }

                        break;
                    case "$id" when !ReferenceEquals(schema, root):
                        // A nested $id moves the base that "#..." refs inside it resolve against; the checks here resolve
                        // against the root, so they would vouch for the wrong target (and miss a loop through it).
                        SchemaThrow.Throw(SchemaError.UnresolvableRef, "a nested $id changes what \"#\" refs inside it mean, which the node does not follow: keep $id on the root only");
                        break;
                    case "uniqueItems":
                        _uniqueItems.Value = true;
                        break;
                    case "pattern" when value is JsonValue pattern && pattern.TryGetValue(out string? regex):
                        patterns.Add(CompilePattern(regex));
                        break;
                    case "patternProperties" when value is JsonObject map:
                        foreach ((string regex, JsonNode? sub) in map)
                        {
                            patterns.Add(CompilePattern(regex));
                            Schema(sub);
                        }

                        break;
                    case "properties" or "definitions" when value is JsonObject map:
                        foreach ((_, JsonNode? sub) in map)
                            Schema(sub);
                        break;
                    case "items" when value is JsonArray list:
                        foreach (JsonNode? sub in list)
                            Schema(sub);
                        break;
                    case "items" or "additionalItems" or "additionalProperties" or "contains" or "propertyNames":
                        Schema(value);
                        break;
                }
            }
        }

        private static void AddInPlace(List<JsonObject> inPlace, JsonNode? next)
        {
            if (next is JsonObject schema)
                inPlace.Add(schema);
        }

        /// <summary>
        /// Longest in-place path from every schema, iteratively (a 64 KiB document can hold thousands of schemas, too
        /// many for recursion on a small thread stack): a schema met again while still on the path is a loop.
        /// </summary>
        public void CheckInPlaceChains()
        {
            var longest = new Dictionary<JsonObject, int>(ReferenceEqualityComparer.Instance);
            var onPath = new HashSet<JsonObject>(ReferenceEqualityComparer.Instance);
            var stack = new Stack<(JsonObject Schema, int Next)>();
            foreach (JsonObject start in _inPlace.Keys)
            {
                if (longest.ContainsKey(start))
                    continue;
                stack.Push((start, 0));
                onPath.Add(start);
                while (stack.Count > 0)
                {
                    (JsonObject schema, int next) = stack.Pop();
                    List<JsonObject> successors = _inPlace.TryGetValue(schema, out List<JsonObject>? list) ? list : [];
                    if (next < successors.Count)
                    {
                        stack.Push((schema, next + 1));
                        JsonObject successor = successors[next];
                        if (onPath.Contains(successor))
                            SchemaThrow.Throw(SchemaError.CircularRef, "the schema's $ref/allOf/anyOf/oneOf/not/if/then/else loop back to themselves without descending into the value: break the loop");
                        if (!longest.ContainsKey(successor))
                        {
                            onPath.Add(successor);
                            stack.Push((successor, 0));
                        }

                        continue;
                    }

                    int depth = 0;
                    foreach (JsonObject successor in successors)
                        depth = Math.Max(depth, longest[successor] + 1);
                    if (depth > MaxInPlaceChain)
                        SchemaThrow.Throw(SchemaError.CircularRef, $"the schema chains more than {MaxInPlaceChain} $ref/allOf/anyOf/oneOf/not/if/then/else levels on one value: flatten it");
                    longest[schema] = depth;
                    onPath.Remove(schema);
                }
            }
        }

        /// <summary>Only fragments of this document that are JSON pointers: "#" and "#/json/pointer" (which must resolve).</summary>
        private JsonNode? Resolve(string target)
        {
            if (!target.StartsWith('#'))
                SchemaThrow.Throw(SchemaError.UnresolvableRef, $"$ref \"{Shorten(target)}\" leaves the document: the node fetches nothing, so inline it under definitions and use \"#/definitions/...\"");
            if (target.Length == 1)
                return root;
            if (target[1] != '/')
                SchemaThrow.Throw(SchemaError.UnresolvableRef, $"$ref \"{Shorten(target)}\" names an $id anchor, which the node does not resolve: use a \"#/definitions/...\" pointer");

            JsonNode? node = root;
            foreach (string raw in Uri.UnescapeDataString(target[2..]).Split('/'))
            {
                string token = raw.Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal);
                node = node switch
                {
                    JsonObject obj when obj.TryGetPropertyValue(token, out JsonNode? child) => child,
                    JsonArray array when int.TryParse(token, out int index) && index >= 0 && index < array.Count => array[index],
                    _ => SchemaThrow.Throw<JsonNode?>(SchemaError.UnresolvableRef, $"$ref \"{Shorten(target)}\" points at nothing in the schema: add that definition or fix the path"),
                };
            }

            return node;
        }

        private static Regex CompilePattern(string pattern)
        {
            try
            {
                // ECMAScript, as JsonSchema.Net compiles it, so the guard sees the same language.
                return new Regex(pattern, RegexOptions.ECMAScript, MatchTimeout);
            }
            catch (ArgumentException e)
            {
                return SchemaThrow.Throw<Regex>(SchemaError.Malformed, $"pattern \"{Shorten(pattern)}\" is not a valid regular expression ({e.Message}): fix it", e);
            }
        }
    }

    /// <summary>
    /// Runs every schema pattern, under a timeout and one overall budget, over the value's strings and keys, and
    /// refuses arrays too long for the library's quadratic uniqueItems.
    /// </summary>
    private readonly struct ValueGuard(Regex[] patterns, int maxArray)
    {
        private readonly Stopwatch _clock = Stopwatch.StartNew();

        public ValidationResult Check(JsonNode? node, string path)
        {
            switch (node)
            {
                case JsonObject obj:
                    foreach ((string key, JsonNode? child) in obj)
                    {
                        string at = path + "/" + key;
                        ValidationResult result = Match(key, at);
                        if (result.IsValid)
                            result = Check(child, at);
                        if (!result.IsValid)
                            return result;
                    }

                    break;
                case JsonArray array:
                    if (array.Count > maxArray)
                        return ValidationResult.Fail(ValidationReason.TooLong, $"the array at {(path.Length == 0 ? "/" : Shorten(path))} has {array.Count} elements; with uniqueItems in the schema the node checks at most {maxArray}: return fewer");
                    for (int i = 0; i < array.Count; i++)
                    {
                        ValidationResult result = Check(array[i], $"{path}/{i}");
                        if (!result.IsValid)
                            return result;
                    }

                    break;
                case JsonValue value when value.GetValueKind() == JsonValueKind.String:
                    return Match(value.GetValue<string>(), path);
            }

            return ValidationResult.Valid;
        }

        private ValidationResult Match(string text, string path)
        {
            foreach (Regex pattern in patterns)
            {
                try
                {
                    pattern.IsMatch(text);
                }
                catch (RegexMatchTimeoutException)
                {
                    return ValidationResult.Fail(ValidationReason.SchemaViolation, $"the value at {(path.Length == 0 ? "/" : Shorten(path))} makes the schema's pattern \"{Shorten(pattern.ToString())}\" run over {MatchTimeout.TotalMilliseconds} ms: simplify the pattern or the value");
                }

                if (_clock.Elapsed > PatternBudget)
                    return ValidationResult.Fail(ValidationReason.TooLarge, $"matching the schema's patterns against the value took over {PatternBudget.TotalSeconds} s: send fewer strings or simpler patterns");
            }

            return ValidationResult.Valid;
        }
    }
}
