using System.Buffers;
using System.Buffers.Text;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace InfraMind.Node.Jobs.Validation;

/// <summary>
/// A JSON Schema draft-07 document compiled once into a graph of small validator nodes, then run over a parsed value
/// (<see cref="JsonElement"/>). Hand-written because a library cost the native binary about 2 MB; AOT- and trim-clean.
/// <para>
/// Supported keywords: type (integer = a number with no fraction, so 1.0 is one), enum, const (JSON equality,
/// numbers by value), properties, required, additionalProperties, patternProperties, propertyNames, minProperties,
/// maxProperties, dependencies (array and schema forms), items (schema or array), additionalItems, minItems,
/// maxItems, uniqueItems (arrays over 4096 items refused), contains, minimum, maximum, exclusiveMinimum,
/// exclusiveMaximum (draft-07 numbers), multipleOf, minLength, maxLength (Unicode code points), pattern (.NET regex,
/// culture-invariant, 100 ms per match), allOf, anyOf, oneOf, not, if/then/else, true/false schemas, definitions and
/// <c>$ref</c> to local JSON pointers (<c>#</c>, <c>#/a/b</c>, with ~0, ~1 and percent-escapes).
/// </para>
/// <para>
/// Ignored, as draft-07 allows: format (an annotation here), title, description, default, examples, $comment,
/// contentMediaType, contentEncoding, readOnly, writeOnly and every unknown keyword; beside <c>$ref</c> every other
/// keyword is ignored, as draft-07 says (only <c>definitions</c> there is still checked, so its refs must resolve).
/// </para>
/// </summary>
internal sealed class Draft7Schema
{
    /// <summary>uniqueItems refuses longer arrays rather than hash this many items on every check.</summary>
    public const int MaxUniqueItemsArray = 4096;

    private readonly SchemaNode _root;

    private Draft7Schema(SchemaNode root) => _root = root;

    /// <summary>Compiles a schema document; throws <see cref="SchemaException"/> for a bad keyword value, ref or loop.</summary>
    public static Draft7Schema Compile(JsonElement document) => new(new Compiler(document).Run());

    /// <summary>Checks one parsed value, doing at most <paramref name="stepBudget"/> schema applications.</summary>
    public ValidationResult Validate(JsonElement value, long stepBudget)
    {
        var evaluator = new Evaluator(stepBudget);
        bool valid;
        try
        {
            valid = _root.Evaluate(value, evaluator);
        }
        catch (InvalidOperationException)
        {
            // JsonElement.GetString refuses an escaped lone surrogate ("\ud800"): it has no string to check.
            return ValidationResult.Fail(ValidationReason.Malformed, "the value holds an escaped lone UTF-16 surrogate (\\ud800 alone), which is not text: send valid Unicode");
        }

        if (evaluator.Fatal is { } fatal)
            return fatal;
        return valid ? ValidationResult.Valid : ValidationResult.Fail(ValidationReason.SchemaViolation, evaluator.FirstError ?? "the value does not match its JSON Schema");
    }

    /// <summary>Walks the document keyword by keyword (never text search), one schema location at a time, with no recursion.</summary>
    private sealed class Compiler(JsonElement root)
    {
        private readonly Dictionary<string, SchemaNode> _nodes = new(StringComparer.Ordinal);
        private readonly Queue<SchemaNode> _pending = new();
        private readonly Dictionary<string, Pattern> _patterns = new(StringComparer.Ordinal);

        public SchemaNode Run()
        {
            SchemaNode top = Node(root, "#");
            while (_pending.TryDequeue(out SchemaNode? next))
                Fill(next.Source, next);
            CheckInPlaceChains();
            foreach (SchemaNode node in _nodes.Values)
            {
                node.InPlace = null;
                node.Source = default;
            }
            return top;
        }

        /// <summary>The node for the schema at <paramref name="path"/>, created once and compiled later (so refs may loop).</summary>
        private SchemaNode Node(JsonElement element, string path)
        {
            if (_nodes.TryGetValue(path, out SchemaNode? node))
                return node;
            node = new SchemaNode(path) { Source = element };
            _nodes.Add(path, node);
            _pending.Enqueue(node);
            return node;
        }

        /// <summary>A subschema applied to the same value: an edge for the loop check (object schemas only, as before).</summary>
        private SchemaNode InPlace(SchemaNode parent, JsonElement element, string path)
        {
            SchemaNode node = Node(element, path);
            if (element.ValueKind == JsonValueKind.Object)
                parent.InPlace!.Add(node);
            return node;
        }

        private void Fill(JsonElement element, SchemaNode node)
        {
            string path = node.Location;
            switch (element.ValueKind)
            {
                case JsonValueKind.True:
                    node.Constant = true;
                    return;
                case JsonValueKind.False:
                    node.Constant = false;
                    return;
                case JsonValueKind.Object:
                    break;
                default:
                    SchemaThrow.Throw(SchemaError.Malformed, $"the schema at {Show(path)} is {Kind(element)}: a schema is an object, true or false");
                    return;
            }

            node.InPlace = [];
            if (element.TryGetProperty("$id", out _) && path != "#")
            {
                // A nested $id moves the base that "#..." refs inside it resolve against; refs here resolve against the
                // root, so they would reach the wrong target (and could hide a loop through it).
                SchemaThrow.Throw(SchemaError.UnresolvableRef, "a nested $id changes what \"#\" refs inside it mean, which the node does not follow: keep $id on the root only");
            }

            if (element.TryGetProperty("definitions", out JsonElement definitions))
            {
                foreach (JsonProperty definition in Members(definitions, "definitions", path))
                    Node(definition.Value, Child(Child(path, "definitions"), definition.Name));
            }

            if (element.TryGetProperty("$ref", out JsonElement reference))
            {
                if (reference.ValueKind != JsonValueKind.String)
                    SchemaThrow.Throw(SchemaError.Malformed, $"$ref at {Show(path)} is {Kind(reference)}: write a string like \"#/definitions/name\"");
                (JsonElement target, string targetPath) = Resolve(reference.GetString()!);
                node.Keywords = [new RefKeyword(InPlace(node, target, targetPath))];
                return;
            }

            var keywords = new List<Keyword>();
            Keyword? type = null;
            JsonElement properties = default, patternProperties = default, additionalProperties = default;
            JsonElement items = default, additionalItems = default, ifSchema = default, thenSchema = default, elseSchema = default;
            foreach (JsonProperty keyword in element.EnumerateObject())
            {
                JsonElement value = keyword.Value;
                string at = Child(path, keyword.Name);
                switch (keyword.Name)
                {
                    case "type":
                        type = TypeKeyword.Create(value, at);
                        break;
                    case "enum":
                        if (value.ValueKind != JsonValueKind.Array)
                            SchemaThrow.Throw(SchemaError.Malformed, $"enum at {Show(at)} is {Kind(value)}: write an array of the allowed values");
                        var allowed = new HashSet<string>(StringComparer.Ordinal);
                        foreach (JsonElement entry in value.EnumerateArray())
                            allowed.Add(JsonKey.Of(entry));
                        keywords.Add(new EnumKeyword(allowed, value.GetArrayLength()));
                        break;
                    case "const":
                        keywords.Add(new ConstKeyword(JsonKey.Of(value), JsonSchemaDocument.Shorten(value.GetRawText())));
                        break;
                    case "properties":
                        properties = value;
                        break;
                    case "patternProperties":
                        patternProperties = value;
                        break;
                    case "additionalProperties":
                        additionalProperties = value;
                        break;
                    case "required":
                        keywords.Add(new RequiredKeyword(Strings(value, at)));
                        break;
                    case "propertyNames":
                        keywords.Add(new PropertyNamesKeyword(Node(value, at)));
                        break;
                    case "minProperties" or "maxProperties" or "minItems" or "maxItems" or "minLength" or "maxLength":
                        keywords.Add(new CountKeyword(keyword.Name, WholeCount(value, at)));
                        break;
                    case "dependencies":
                        var dependencies = new List<Dependency>();
                        foreach (JsonProperty dependency in Members(value, "dependencies", path))
                        {
                            string dependencyPath = Child(at, dependency.Name);
                            dependencies.Add(dependency.Value.ValueKind == JsonValueKind.Array
                                ? new Dependency(dependency.Name, Strings(dependency.Value, dependencyPath), null)
                                : new Dependency(dependency.Name, null, InPlace(node, dependency.Value, dependencyPath)));
                        }

                        keywords.Add(new DependenciesKeyword([.. dependencies]));
                        break;
                    case "items":
                        items = value;
                        break;
                    case "additionalItems":
                        additionalItems = value;
                        break;
                    case "uniqueItems":
                        if (value.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
                            SchemaThrow.Throw(SchemaError.Malformed, $"uniqueItems at {Show(at)} is {Kind(value)}: write true or false");
                        if (value.ValueKind == JsonValueKind.True)
                            keywords.Add(new UniqueItemsKeyword());
                        break;
                    case "contains":
                        keywords.Add(new ContainsKeyword(Node(value, at)));
                        break;
                    case "minimum" or "maximum" or "exclusiveMinimum" or "exclusiveMaximum":
                        if (value.ValueKind != JsonValueKind.Number)
                        {
                            SchemaThrow.Throw(SchemaError.Malformed, value.ValueKind is JsonValueKind.True or JsonValueKind.False
                                ? $"{keyword.Name} at {Show(at)} is a boolean, the draft-04 form: in draft-07 write the bound itself, {{\"{keyword.Name}\": 5}}"
                                : $"{keyword.Name} at {Show(at)} is {Kind(value)}: write a number");
                        }

                        keywords.Add(new BoundKeyword(keyword.Name, new Limit(value)));
                        break;
                    case "multipleOf":
                        if (value.ValueKind != JsonValueKind.Number || JsonNumber.Of(value) is { IsZero: true } or { Negative: true })
                            SchemaThrow.Throw(SchemaError.Malformed, $"multipleOf at {Show(at)} must be a number above 0: fix {JsonSchemaDocument.Shorten(value.GetRawText())}");
                        keywords.Add(new MultipleOfKeyword(new Limit(value)));
                        break;
                    case "pattern":
                        if (value.ValueKind != JsonValueKind.String)
                            SchemaThrow.Throw(SchemaError.Malformed, $"pattern at {Show(at)} is {Kind(value)}: write a regular expression string");
                        keywords.Add(new PatternKeyword(Regex(value.GetString()!)));
                        break;
                    case "allOf" or "anyOf" or "oneOf":
                        if (value.ValueKind != JsonValueKind.Array || value.GetArrayLength() == 0)
                            SchemaThrow.Throw(SchemaError.Malformed, $"{keyword.Name} at {Show(at)} must be a non-empty array of schemas");
                        var branches = new SchemaNode[value.GetArrayLength()];
                        for (int i = 0; i < branches.Length; i++)
                            branches[i] = InPlace(node, value[i], Child(at, Index(i)));
                        keywords.Add(keyword.Name switch
                        {
                            "allOf" => new AllOfKeyword(branches),
                            "anyOf" => new AnyOfKeyword(branches),
                            _ => new OneOfKeyword(branches),
                        });
                        break;
                    case "not":
                        keywords.Add(new NotKeyword(InPlace(node, value, at)));
                        break;
                    case "if":
                        ifSchema = value;
                        break;
                    case "then":
                        thenSchema = value;
                        break;
                    case "else":
                        elseSchema = value;
                        break;
                    case "format" or "$schema" or "$id" or "$comment" or "title" or "description" or "default" or "examples"
                        or "definitions" or "contentMediaType" or "contentEncoding" or "readOnly" or "writeOnly":
                        break;
                }
            }

            if (properties.ValueKind != JsonValueKind.Undefined || patternProperties.ValueKind != JsonValueKind.Undefined || additionalProperties.ValueKind != JsonValueKind.Undefined)
            {
                Dictionary<string, SchemaNode>? named = null;
                if (properties.ValueKind != JsonValueKind.Undefined)
                {
                    named = new Dictionary<string, SchemaNode>(StringComparer.Ordinal);
                    foreach (JsonProperty schema in Members(properties, "properties", path))
                        named[schema.Name] = Node(schema.Value, Child(Child(path, "properties"), schema.Name));
                }

                var patterned = new List<PatternSchema>();
                if (patternProperties.ValueKind != JsonValueKind.Undefined)
                {
                    foreach (JsonProperty schema in Members(patternProperties, "patternProperties", path))
                        patterned.Add(new PatternSchema(Regex(schema.Name), Node(schema.Value, Child(Child(path, "patternProperties"), schema.Name))));
                }

                SchemaNode? additional = additionalProperties.ValueKind == JsonValueKind.Undefined ? null : Node(additionalProperties, Child(path, "additionalProperties"));
                keywords.Add(new PropertiesKeyword(named, [.. patterned], additional));
            }

            if (items.ValueKind != JsonValueKind.Undefined)
            {
                string at = Child(path, "items");
                if (items.ValueKind == JsonValueKind.Array)
                {
                    var tuple = new SchemaNode[items.GetArrayLength()];
                    for (int i = 0; i < tuple.Length; i++)
                        tuple[i] = Node(items[i], Child(at, Index(i)));
                    SchemaNode? rest = additionalItems.ValueKind == JsonValueKind.Undefined ? null : Node(additionalItems, Child(path, "additionalItems"));
                    keywords.Add(new ItemsKeyword(null, tuple, rest));
                }
                else
                {
                    keywords.Add(new ItemsKeyword(Node(items, at), null, null));
                }
            }
            else if (additionalItems.ValueKind != JsonValueKind.Undefined)
            {
                Node(additionalItems, Child(path, "additionalItems")); // checked, though draft-07 ignores it without items
            }

            if (ifSchema.ValueKind != JsonValueKind.Undefined || thenSchema.ValueKind != JsonValueKind.Undefined || elseSchema.ValueKind != JsonValueKind.Undefined)
            {
                SchemaNode? condition = ifSchema.ValueKind == JsonValueKind.Undefined ? null : InPlace(node, ifSchema, Child(path, "if"));
                SchemaNode? then = thenSchema.ValueKind == JsonValueKind.Undefined ? null : InPlace(node, thenSchema, Child(path, "then"));
                SchemaNode? otherwise = elseSchema.ValueKind == JsonValueKind.Undefined ? null : InPlace(node, elseSchema, Child(path, "else"));
                // Without "if", then/else do nothing; without either branch, "if" decides nothing.
                if (condition is not null && (then is not null || otherwise is not null))
                    keywords.Add(new IfKeyword(condition, then, otherwise));
            }

            if (type is not null)
                keywords.Insert(0, type); // the clearest first error: "expected object, found array"
            node.Keywords = [.. keywords];
        }

        private Pattern Regex(string source)
        {
            if (!_patterns.TryGetValue(source, out Pattern? pattern))
            {
                try
                {
                    pattern = new Pattern(source);
                }
                catch (ArgumentException e)
                {
                    return SchemaThrow.Throw<Pattern>(SchemaError.Malformed, $"pattern \"{JsonSchemaDocument.Shorten(source)}\" is not a valid regular expression ({e.Message}): fix it", e);
                }

                _patterns.Add(source, pattern);
            }

            return pattern;
        }

        /// <summary>Only fragments of this document that are JSON pointers: "#" and "#/json/pointer" (which must resolve).</summary>
        private (JsonElement Target, string Path) Resolve(string target)
        {
            if (!target.StartsWith('#'))
                SchemaThrow.Throw(SchemaError.UnresolvableRef, $"$ref \"{JsonSchemaDocument.Shorten(target)}\" leaves the document: the node fetches nothing, so inline it under definitions and use \"#/definitions/...\"");
            if (target.Length == 1)
                return (root, "#");
            if (target[1] != '/')
                SchemaThrow.Throw(SchemaError.UnresolvableRef, $"$ref \"{JsonSchemaDocument.Shorten(target)}\" names an $id anchor, which the node does not resolve: use a \"#/definitions/...\" pointer");

            JsonElement node = root;
            string path = "#";
            foreach (string raw in Uri.UnescapeDataString(target[2..]).Split('/'))
            {
                string token = raw.Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal);
                if (node.ValueKind == JsonValueKind.Object && node.TryGetProperty(token, out JsonElement child))
                {
                    node = child;
                    path = Child(path, token);
                }
                else if (node.ValueKind == JsonValueKind.Array && int.TryParse(token, NumberStyles.None, CultureInfo.InvariantCulture, out int index) && index < node.GetArrayLength())
                {
                    node = node[index];
                    path = Child(path, Index(index));
                }
                else
                {
                    SchemaThrow.Throw(SchemaError.UnresolvableRef, $"$ref \"{JsonSchemaDocument.Shorten(target)}\" points at nothing in the schema: add that definition or fix the path");
                }
            }

            return (node, path);
        }

        /// <summary>
        /// Longest in-place path from every schema, iteratively (a 64 KiB document can hold thousands of schemas, too
        /// many for recursion on a small thread stack): a schema met again while still on the path is a loop, which
        /// would recurse on one value until the stack overflowed.
        /// </summary>
        private void CheckInPlaceChains()
        {
            // Per node: Longest is -1 until known; OnPath marks the nodes on the current walk.
            var nodes = new Stack<SchemaNode>();
            var nexts = new Stack<int>();
            foreach (SchemaNode start in _nodes.Values)
            {
                if (start.Longest >= 0)
                    continue;
                nodes.Push(start);
                nexts.Push(0);
                start.OnPath = true;
                while (nodes.Count > 0)
                {
                    SchemaNode schema = nodes.Pop();
                    int next = nexts.Pop();
                    List<SchemaNode>? successors = schema.InPlace;
                    if (successors is not null && next < successors.Count)
                    {
                        nodes.Push(schema);
                        nexts.Push(next + 1);
                        SchemaNode successor = successors[next];
                        if (successor.OnPath)
                            SchemaThrow.Throw(SchemaError.CircularRef, "the schema's $ref/allOf/anyOf/oneOf/not/if/then/else loop back to themselves without descending into the value: break the loop");
                        if (successor.Longest < 0)
                        {
                            successor.OnPath = true;
                            nodes.Push(successor);
                            nexts.Push(0);
                        }

                        continue;
                    }

                    int depth = 0;
                    if (successors is not null)
                    {
                        foreach (SchemaNode successor in successors)
                            depth = Math.Max(depth, successor.Longest + 1);
                    }

                    if (depth > JsonSchemaDocument.MaxInPlaceChain)
                        SchemaThrow.Throw(SchemaError.CircularRef, $"the schema chains more than {JsonSchemaDocument.MaxInPlaceChain} $ref/allOf/anyOf/oneOf/not/if/then/else levels on one value: flatten it");
                    schema.Longest = depth;
                    schema.OnPath = false;
                }
            }
        }

        private static JsonElement.ObjectEnumerator Members(JsonElement map, string keyword, string path)
        {
            if (map.ValueKind != JsonValueKind.Object)
                SchemaThrow.Throw(SchemaError.Malformed, $"{keyword} at {Show(Child(path, keyword))} is {Kind(map)}: write an object of name to schema");
            return map.EnumerateObject();
        }

        private static string[] Strings(JsonElement list, string at)
        {
            if (list.ValueKind != JsonValueKind.Array)
                SchemaThrow.Throw(SchemaError.Malformed, $"the list at {Show(at)} must be an array of property names (strings): write [\"name\", ...]");
            var names = new string[list.GetArrayLength()];
            var seen = new HashSet<string>(StringComparer.Ordinal);
            for (int i = 0; i < names.Length; i++)
            {
                if (list[i].ValueKind != JsonValueKind.String)
                    SchemaThrow.Throw(SchemaError.Malformed, $"the list at {Show(at)} must be an array of property names (strings): write [\"name\", ...]");
                names[i] = list[i].GetString()!;
                if (!seen.Add(names[i]))
                    SchemaThrow.Throw(SchemaError.Malformed, $"the list at {Show(at)} names a property twice: list each once");
            }

            return names;
        }

        /// <summary>A non-negative integer (2.0 counts); counts past int.MaxValue mean the same as int.MaxValue.</summary>
        private static int WholeCount(JsonElement value, string at)
        {
            JsonNumber number = value.ValueKind == JsonValueKind.Number ? JsonNumber.Of(value) : default;
            if (value.ValueKind != JsonValueKind.Number || !number.IsInteger || number.Negative)
                SchemaThrow.Throw(SchemaError.Malformed, $"{Show(at)} is {JsonSchemaDocument.Shorten(value.GetRawText())}: write a whole number, 0 or more");
            return number.CompareTo(JsonNumber.Parse("2147483647"u8)) >= 0 ? int.MaxValue : (int)number.ToDouble();
        }

        private static string Child(string path, string token) =>
            path + "/" + token.Replace("~", "~0", StringComparison.Ordinal).Replace("/", "~1", StringComparison.Ordinal);

        private static string Index(int index) => index.ToString(CultureInfo.InvariantCulture);

        private static string Show(string path) => JsonSchemaDocument.Shorten(path);

        private static string Kind(JsonElement value) => value.ValueKind switch
        {
            JsonValueKind.Object => "an object",
            JsonValueKind.Array => "an array",
            JsonValueKind.String => "a string",
            JsonValueKind.Number => "a number",
            JsonValueKind.True or JsonValueKind.False => "a boolean",
            _ => "null",
        };
    }
}

/// <summary>One schema location: true/false, or the keywords that apply there, checked in order, stopping at the first failure.</summary>
internal sealed class SchemaNode(string location)
{
    /// <summary>Where the schema sits in its document ("#/properties/a"), for the compiler's messages.</summary>
    public string Location { get; } = location;

    /// <summary>Set for the boolean schemas true and false.</summary>
    public bool? Constant { get; set; }

    public Keyword[] Keywords { get; set; } = [];

    /// <summary>Compile time only: the schemas applied to the same value (for the loop check).</summary>
    public List<SchemaNode>? InPlace { get; set; }

    /// <summary>Compile time only: the document element this node compiles.</summary>
    public JsonElement Source { get; set; }

    /// <summary>Compile time only: the longest in-place chain from here (-1 until known) and the walk's mark.</summary>
    public int Longest { get; set; } = -1;

    public bool OnPath { get; set; }

    public bool Evaluate(JsonElement value, Evaluator evaluator)
    {
        if (!evaluator.Step())
            return false;
        if (Constant is bool constant)
            return constant || evaluator.Fail("false", "the schema is false, which no value matches");
        foreach (Keyword keyword in Keywords)
        {
            if (!keyword.Check(value, evaluator))
                return false;
        }

        return true;
    }
}

/// <summary>A compiled pattern: .NET regex, culture-invariant, each match bounded by <see cref="MatchTimeout"/>.</summary>
internal sealed class Pattern(string source)
{
    public static readonly TimeSpan MatchTimeout = TimeSpan.FromMilliseconds(100);

    public string Source { get; } = source;

    public Regex Regex { get; } = new(source, RegexOptions.CultureInvariant, MatchTimeout);
}

/// <summary>One keyword's check. Keywords for one JSON type pass every other type, as the spec says.</summary>
internal abstract class Keyword
{
    public abstract bool Check(JsonElement value, Evaluator evaluator);

    protected static string Quote(string text) => "\"" + JsonSchemaDocument.Shorten(text) + "\"";

    /// <summary>A string's length in Unicode code points (a surrogate pair is one), as draft-07 counts it.</summary>
    protected static int CodePoints(string text)
    {
        int count = text.Length;
        for (int i = 0; i + 1 < text.Length; i++)
        {
            if (char.IsHighSurrogate(text[i]) && char.IsLowSurrogate(text[i + 1]))
            {
                count--;
                i++;
            }
        }

        return count;
    }
}

[Flags]
internal enum JsonTypes
{
    None = 0,
    Null = 1,
    Boolean = 2,
    Object = 4,
    Array = 8,
    Number = 16,
    String = 32,
    Integer = 64,
}

internal sealed class TypeKeyword(JsonTypes allowed, string names) : Keyword
{
    public static TypeKeyword Create(JsonElement value, string at)
    {
        JsonTypes allowed = JsonTypes.None;
        var names = new List<string>();
        int count = value.ValueKind == JsonValueKind.Array ? value.GetArrayLength() : 1;
        for (int i = 0; i < count; i++)
        {
            JsonElement entry = value.ValueKind == JsonValueKind.Array ? value[i] : value;
            JsonTypes one = entry.ValueKind != JsonValueKind.String ? JsonTypes.None : entry.GetString() switch
            {
                "null" => JsonTypes.Null,
                "boolean" => JsonTypes.Boolean,
                "object" => JsonTypes.Object,
                "array" => JsonTypes.Array,
                "number" => JsonTypes.Number,
                "string" => JsonTypes.String,
                "integer" => JsonTypes.Integer,
                _ => JsonTypes.None,
            };
            if (one == JsonTypes.None || (allowed & one) != 0)
                SchemaThrow.Throw(SchemaError.Malformed, $"type at {JsonSchemaDocument.Shorten(at)} holds {JsonSchemaDocument.Shorten(entry.GetRawText())}: use each of null, boolean, object, array, number, integer, string at most once");
            allowed |= one;
            names.Add(entry.GetString()!);
        }

        if (allowed == JsonTypes.None)
            SchemaThrow.Throw(SchemaError.Malformed, $"type at {JsonSchemaDocument.Shorten(at)} is an empty list: name at least one type");
        return new TypeKeyword(allowed, string.Join(" or ", names));
    }

    public override bool Check(JsonElement value, Evaluator evaluator)
    {
        JsonTypes actual = value.ValueKind switch
        {
            JsonValueKind.Null => JsonTypes.Null,
            JsonValueKind.True or JsonValueKind.False => JsonTypes.Boolean,
            JsonValueKind.Object => JsonTypes.Object,
            JsonValueKind.Array => JsonTypes.Array,
            JsonValueKind.String => JsonTypes.String,
            _ => JsonTypes.Number,
        };
        if ((allowed & actual) != 0)
            return true;
        if (actual == JsonTypes.Number && (allowed & JsonTypes.Integer) != 0 && IsInteger(value))
            return true;
        string found = actual switch
        {
            JsonTypes.Null => "null",
            JsonTypes.Boolean => "boolean",
            JsonTypes.Object => "object",
            JsonTypes.Array => "array",
            JsonTypes.String => "string",
            _ => "number",
        };
        return evaluator.Fail("type", $"expected {names}, found {found}");
    }

    private static bool IsInteger(JsonElement value)
    {
        ReadOnlySpan<byte> raw = JsonMarshal.GetRawUtf8Value(value);
        return raw.IndexOfAny(".eE"u8) < 0 || JsonNumber.Parse(raw).IsInteger;
    }
}

internal sealed class EnumKeyword(HashSet<string> allowed, int count) : Keyword
{
    public override bool Check(JsonElement value, Evaluator evaluator) =>
        allowed.Contains(JsonKey.Of(value, evaluator)) || evaluator.Fail("enum", $"the value is not one of the {count} allowed values");
}

internal sealed class ConstKeyword(string key, string shown) : Keyword
{
    public override bool Check(JsonElement value, Evaluator evaluator) =>
        JsonKey.Of(value, evaluator) == key || evaluator.Fail("const", $"the value is not {shown}");
}

internal sealed class RefKeyword(SchemaNode target) : Keyword
{
    public override bool Check(JsonElement value, Evaluator evaluator) => target.Evaluate(value, evaluator);
}

internal sealed record PatternSchema(Pattern Pattern, SchemaNode Schema);

internal sealed record Dependency(string Name, string[]? Names, SchemaNode? Schema);

internal sealed class PropertiesKeyword(Dictionary<string, SchemaNode>? named, PatternSchema[] patterned, SchemaNode? additional) : Keyword
{
    public override bool Check(JsonElement value, Evaluator evaluator)
    {
        if (value.ValueKind != JsonValueKind.Object)
            return true;
        foreach (JsonProperty member in value.EnumerateObject())
        {
            string name = member.Name;
            evaluator.Push(name);
            bool valid = Member(name, member.Value, evaluator);
            evaluator.Pop();
            if (!valid)
                return false;
        }

        return true;
    }

    private bool Member(string name, JsonElement value, Evaluator evaluator)
    {
        bool matched = false;
        if (named is not null && named.TryGetValue(name, out SchemaNode? schema))
        {
            matched = true;
            if (!schema.Evaluate(value, evaluator))
                return false;
        }

        foreach ((Pattern pattern, SchemaNode patternSchema) in patterned)
        {
            if (evaluator.Matches(pattern, name))
            {
                matched = true;
                if (!patternSchema.Evaluate(value, evaluator))
                    return false;
            }
            else if (evaluator.Aborted)
            {
                return false;
            }
        }

        if (matched || additional is null)
            return true;
        if (additional.Constant == false)
            return evaluator.Fail("additionalProperties", $"property {Quote(name)} is not allowed here");
        return additional.Evaluate(value, evaluator);
    }
}

internal sealed class RequiredKeyword(string[] names) : Keyword
{
    public override bool Check(JsonElement value, Evaluator evaluator)
    {
        if (value.ValueKind != JsonValueKind.Object)
            return true;
        // TryGetProperty scans the object: a long list is checked against one set of the value's names instead.
        HashSet<string>? present = names.Length > 8 ? Names(value, evaluator) : null;
        foreach (string name in names)
        {
            if (present is not null ? !present.Contains(name) : !value.TryGetProperty(name, out _))
                return evaluator.Fail("required", $"the required property {Quote(name)} is missing");
        }

        return true;
    }

    public static HashSet<string> Names(JsonElement value, Evaluator evaluator)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (JsonProperty member in value.EnumerateObject())
        {
            evaluator.Step();
            names.Add(member.Name);
        }

        return names;
    }
}

internal sealed class PropertyNamesKeyword(SchemaNode schema) : Keyword
{
    public override bool Check(JsonElement value, Evaluator evaluator)
    {
        if (value.ValueKind != JsonValueKind.Object)
            return true;
        foreach (JsonProperty member in value.EnumerateObject())
        {
            string name = member.Name;
            bool valid = evaluator.Probe(schema, AsJson(name));
            if (evaluator.Aborted)
                return false;
            if (!valid)
                return evaluator.Fail("propertyNames", $"the property name {Quote(name)} does not match the propertyNames schema");
        }

        return true;
    }

    /// <summary>The name as a JSON string value, so the string keywords run on it unchanged.</summary>
    private static JsonElement AsJson(string name)
    {
        var buffer = new ArrayBufferWriter<byte>(name.Length + 16);
        using (var writer = new Utf8JsonWriter(buffer))
            writer.WriteStringValue(name);
        var reader = new Utf8JsonReader(buffer.WrittenSpan);
        reader.Read();
        return JsonElement.ParseValue(ref reader);
    }
}

/// <summary>minProperties, maxProperties, minItems, maxItems, minLength, maxLength.</summary>
internal sealed class CountKeyword(string keyword, int limit) : Keyword
{
    private readonly bool _isMax = keyword.StartsWith("max", StringComparison.Ordinal);

    public override bool Check(JsonElement value, Evaluator evaluator)
    {
        int count;
        string what;
        switch (keyword)
        {
            case "minProperties" or "maxProperties" when value.ValueKind == JsonValueKind.Object:
                count = value.GetPropertyCount();
                what = "properties";
                break;
            case "minItems" or "maxItems" when value.ValueKind == JsonValueKind.Array:
                count = value.GetArrayLength();
                what = "items";
                break;
            case "minLength" or "maxLength" when value.ValueKind == JsonValueKind.String:
                count = CodePoints(value.GetString()!);
                what = "characters";
                break;
            default:
                return true;
        }

        if (_isMax ? count <= limit : count >= limit)
            return true;
        return evaluator.Fail(keyword, $"it has {count} {what}, {(_isMax ? "more" : "fewer")} than {limit}");
    }
}

internal sealed class DependenciesKeyword(Dependency[] dependencies) : Keyword
{
    public override bool Check(JsonElement value, Evaluator evaluator)
    {
        if (value.ValueKind != JsonValueKind.Object)
            return true;
        HashSet<string> present = RequiredKeyword.Names(value, evaluator);
        foreach ((string name, string[]? names, SchemaNode? schema) in dependencies)
        {
            if (!present.Contains(name))
                continue;
            if (names is not null)
            {
                foreach (string needed in names)
                {
                    if (!present.Contains(needed))
                        return evaluator.Fail("dependencies", $"property {Quote(name)} needs property {Quote(needed)}, which is missing");
                }
            }
            else if (!schema!.Evaluate(value, evaluator))
            {
                return false;
            }
        }

        return true;
    }
}

internal sealed class ItemsKeyword(SchemaNode? all, SchemaNode[]? tuple, SchemaNode? additional) : Keyword
{
    public override bool Check(JsonElement value, Evaluator evaluator)
    {
        if (value.ValueKind != JsonValueKind.Array)
            return true;
        int index = 0;
        foreach (JsonElement item in value.EnumerateArray())
        {
            SchemaNode? schema = tuple is null ? all : index < tuple.Length ? tuple[index] : additional;
            if (schema is null)
                return true;
            evaluator.Push(index);
            bool valid = schema.Constant == false && tuple is not null && index >= tuple.Length
                ? evaluator.Fail("additionalItems", $"the array has more than the {tuple.Length} items that items lists")
                : schema.Evaluate(item, evaluator);
            evaluator.Pop();
            if (!valid)
                return false;
            index++;
        }

        return true;
    }
}

internal sealed class UniqueItemsKeyword : Keyword
{
    public override bool Check(JsonElement value, Evaluator evaluator)
    {
        if (value.ValueKind != JsonValueKind.Array)
            return true;
        int length = value.GetArrayLength();
        if (length > Draft7Schema.MaxUniqueItemsArray)
        {
            evaluator.Abort(ValidationReason.TooLong, $"the array at {evaluator.Pointer()} has {length} elements; with uniqueItems in the schema the node checks at most {Draft7Schema.MaxUniqueItemsArray}: return fewer");
            return false;
        }

        var seen = new Dictionary<string, int>(length, StringComparer.Ordinal);
        int index = 0;
        foreach (JsonElement item in value.EnumerateArray())
        {
            if (!seen.TryAdd(JsonKey.Of(item, evaluator), index))
                return evaluator.Fail("uniqueItems", $"items {seen[JsonKey.Of(item)]} and {index} are equal");
            index++;
        }

        return true;
    }
}

internal sealed class ContainsKeyword(SchemaNode schema) : Keyword
{
    public override bool Check(JsonElement value, Evaluator evaluator)
    {
        if (value.ValueKind != JsonValueKind.Array)
            return true;
        foreach (JsonElement item in value.EnumerateArray())
        {
            if (evaluator.Probe(schema, item))
                return true;
            if (evaluator.Aborted)
                return false;
        }

        return evaluator.Fail("contains", "no item matches the contains schema");
    }
}

/// <summary>A numeric bound from the schema: exact, with a fast path when both sides are plain integers.</summary>
internal sealed class Limit(JsonElement value)
{
    public JsonNumber Exact { get; } = JsonNumber.Of(value);

    public long? Whole { get; } = PlainLong(JsonMarshal.GetRawUtf8Value(value));

    public string Text { get; } = JsonSchemaDocument.Shorten(value.GetRawText());

    public static long? PlainLong(ReadOnlySpan<byte> raw) =>
        raw.Length <= 18 && Utf8Parser.TryParse(raw, out long whole, out int used) && used == raw.Length ? whole : null;

    /// <summary>The value compared with the bound: negative below, zero equal, positive above.</summary>
    public int Compare(JsonElement number)
    {
        ReadOnlySpan<byte> raw = JsonMarshal.GetRawUtf8Value(number);
        if (Whole is long bound && PlainLong(raw) is long whole)
            return whole.CompareTo(bound);
        return JsonNumber.Parse(raw).CompareTo(Exact);
    }
}

internal sealed class BoundKeyword(string keyword, Limit limit) : Keyword
{
    public override bool Check(JsonElement value, Evaluator evaluator)
    {
        if (value.ValueKind != JsonValueKind.Number)
            return true;
        int order = limit.Compare(value);
        bool valid = keyword switch
        {
            "minimum" => order >= 0,
            "maximum" => order <= 0,
            "exclusiveMinimum" => order > 0,
            _ => order < 0,
        };
        if (valid)
            return true;
        string relation = keyword switch
        {
            "minimum" => "at least",
            "maximum" => "at most",
            "exclusiveMinimum" => "above",
            _ => "below",
        };
        return evaluator.Fail(keyword, $"{JsonSchemaDocument.Shorten(value.GetRawText())} is not {relation} {limit.Text}");
    }
}

/// <summary>
/// multipleOf: exact when the divisor has at most 17 significant digits; past that in double precision, where a quotient
/// that is not finite (1e308 / 0.123) is not a multiple.
/// </summary>
internal sealed class MultipleOfKeyword(Limit divisor) : Keyword
{
    public override bool Check(JsonElement value, Evaluator evaluator)
    {
        if (value.ValueKind != JsonValueKind.Number)
            return true;
        return IsMultiple(value) || evaluator.Fail("multipleOf", $"{JsonSchemaDocument.Shorten(value.GetRawText())} is not a multiple of {divisor.Text}");
    }

    private bool IsMultiple(JsonElement value)
    {
        ReadOnlySpan<byte> raw = JsonMarshal.GetRawUtf8Value(value);
        if (divisor.Whole is long whole && Limit.PlainLong(raw) is long dividend)
            return dividend % whole == 0;
        JsonNumber number = JsonNumber.Parse(raw);
        if (number.IsZero)
            return true;
        JsonNumber by = divisor.Exact;
        // value / divisor = (Iv / Id) × 10^k, with Iv, Id the digit strings as integers. Iv has no trailing zero, so
        // for k < 0 it is never a whole number; for k >= 0 it is one when Iv × 10^k leaves no remainder by Id.
        long k = (number.Exponent - number.Digits.Length) - (by.Exponent - by.Digits.Length);
        if (by.Digits.Length <= 17 && k <= 4096)
        {
            if (k < 0)
                return false;
            long modulus = long.Parse(by.Digits, CultureInfo.InvariantCulture);
            long remainder = 0;
            foreach (char digit in number.Digits)
                remainder = ((remainder * 10) + (digit - '0')) % modulus;
            for (long i = 0; i < k && remainder != 0; i++)
                remainder = remainder * 10 % modulus;
            return remainder == 0;
        }

        double quotient = number.ToDouble() / by.ToDouble();
        return double.IsFinite(quotient) && Math.Floor(quotient) == quotient;
    }
}

internal sealed class PatternKeyword(Pattern pattern) : Keyword
{
    public override bool Check(JsonElement value, Evaluator evaluator)
    {
        if (value.ValueKind != JsonValueKind.String || evaluator.Matches(pattern, value.GetString()!))
            return true;
        return !evaluator.Aborted && evaluator.Fail("pattern", $"it does not match {Quote(pattern.Source)}");
    }
}

internal sealed class AllOfKeyword(SchemaNode[] branches) : Keyword
{
    public override bool Check(JsonElement value, Evaluator evaluator)
    {
        foreach (SchemaNode branch in branches)
        {
            if (!branch.Evaluate(value, evaluator))
                return false;
        }

        return true;
    }
}

internal sealed class AnyOfKeyword(SchemaNode[] branches) : Keyword
{
    public override bool Check(JsonElement value, Evaluator evaluator)
    {
        foreach (SchemaNode branch in branches)
        {
            if (evaluator.Probe(branch, value))
                return true;
            if (evaluator.Aborted)
                return false;
        }

        return evaluator.Fail("anyOf", $"it matches none of the {branches.Length} schemas");
    }
}

internal sealed class OneOfKeyword(SchemaNode[] branches) : Keyword
{
    public override bool Check(JsonElement value, Evaluator evaluator)
    {
        int matches = 0;
        foreach (SchemaNode branch in branches)
        {
            if (evaluator.Probe(branch, value) && ++matches > 1)
                return evaluator.Fail("oneOf", $"it matches more than one of the {branches.Length} schemas; exactly one must match");
            if (evaluator.Aborted)
                return false;
        }

        return matches == 1 || evaluator.Fail("oneOf", $"it matches none of the {branches.Length} schemas; exactly one must match");
    }
}

internal sealed class NotKeyword(SchemaNode schema) : Keyword
{
    public override bool Check(JsonElement value, Evaluator evaluator)
    {
        bool matched = evaluator.Probe(schema, value);
        if (evaluator.Aborted)
            return false;
        return !matched || evaluator.Fail("not", "it matches the schema under not");
    }
}

internal sealed class IfKeyword(SchemaNode condition, SchemaNode? then, SchemaNode? otherwise) : Keyword
{
    public override bool Check(JsonElement value, Evaluator evaluator)
    {
        bool holds = evaluator.Probe(condition, value);
        if (evaluator.Aborted)
            return false;
        SchemaNode? branch = holds ? then : otherwise;
        return branch is null || branch.Evaluate(value, evaluator);
    }
}
