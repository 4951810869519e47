using System.Diagnostics;
using System.Text;

namespace InfraMind.Node.Jobs.Validation;

/// <summary>
/// The state of one validation: where in the value it is (a JSON pointer kept as a stack, formatted only on
/// failure), the first error, and the bounds that stop a hostile schema or value. Not shared between threads.
/// </summary>
internal sealed class Evaluator(long stepBudget)
{
    /// <summary>Total time all pattern matches of one validation may take.</summary>
    public static readonly TimeSpan PatternBudget = TimeSpan.FromSeconds(1);

    private readonly List<string?> _names = [];
    private readonly List<int> _indices = [];
    private long _steps;
    private long _patternTicks;
    private int _quiet;

    /// <summary>The first failure, in words, when the value does not match.</summary>
    public string? FirstError { get; private set; }

    /// <summary>A failure that ends the whole validation whatever not/anyOf/oneOf would make of it (timeouts, limits).</summary>
    public ValidationResult? Fatal { get; private set; }

    public bool Aborted => Fatal is not null;

    /// <summary>Counts one unit of work; false once the budget is spent or the validation was aborted.</summary>
    public bool Step()
    {
        if (++_steps > stepBudget && Fatal is null)
        {
            Abort(ValidationReason.TooLarge, $"checking the value against its JSON Schema took over {stepBudget} steps (its $ref/allOf/anyOf/oneOf fan out on every level): simplify the schema or send a smaller value");
        }

        return Fatal is null;
    }

    public void Abort(ValidationReason reason, string message) => Fatal ??= ValidationResult.Fail(reason, message);

    /// <summary>Records the first failure unless a combinator (anyOf, oneOf, not, if, contains) is only probing. Always false.</summary>
    public bool Fail(string keyword, string message)
    {
        if (_quiet == 0 && FirstError is null)
            FirstError = $"the value at {Pointer()} fails its JSON Schema ({keyword}: {message})";
        return false;
    }

    /// <summary>Applies a subschema without reporting its failures: the caller reports in its own words.</summary>
    public bool Probe(SchemaNode schema, System.Text.Json.JsonElement value)
    {
        _quiet++;
        try
        {
            return schema.Evaluate(value, this);
        }
        finally
        {
            _quiet--;
        }
    }

    public void Push(string name)
    {
        _names.Add(name);
        _indices.Add(-1);
    }

    public void Push(int index)
    {
        _names.Add(null);
        _indices.Add(index);
    }

    public void Pop()
    {
        _names.RemoveAt(_names.Count - 1);
        _indices.RemoveAt(_indices.Count - 1);
    }

    /// <summary>Runs one pattern match under the regex's own timeout and the validation's overall pattern budget.</summary>
    public bool Matches(Pattern pattern, string text)
    {
        long start = Stopwatch.GetTimestamp();
        try
        {
            return pattern.Regex.IsMatch(text);
        }
        catch (System.Text.RegularExpressions.RegexMatchTimeoutException)
        {
            Abort(ValidationReason.SchemaViolation, $"the value at {Pointer()} makes the schema's pattern \"{JsonSchemaDocument.Shorten(pattern.Source)}\" run over {Pattern.MatchTimeout.TotalMilliseconds} ms: simplify the pattern or the value");
            return false;
        }
        finally
        {
            _patternTicks += Stopwatch.GetTimestamp() - start;
            if (Stopwatch.GetElapsedTime(0, _patternTicks) > PatternBudget)
                Abort(ValidationReason.TooLarge, $"matching the schema's patterns against the value took over {PatternBudget.TotalSeconds} s: send fewer strings or simpler patterns");
        }
    }

    /// <summary>The current instance location as a JSON pointer ("/" for the root), at most 200 characters.</summary>
    public string Pointer()
    {
        if (_names.Count == 0)
            return "/";
        var pointer = new StringBuilder();
        for (int i = 0; i < _names.Count; i++)
        {
            string? name = _names[i];
            int index = _indices[i];
            pointer.Append('/');
            if (name is null)
                pointer.Append(index.ToString(System.Globalization.CultureInfo.InvariantCulture));
            else
                pointer.Append(name.Replace("~", "~0", StringComparison.Ordinal).Replace("/", "~1", StringComparison.Ordinal));
            if (pointer.Length > 200)
                break;
        }

        return JsonSchemaDocument.Shorten(pointer.ToString());
    }
}
