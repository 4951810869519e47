using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using InfraMind.Node.Configuration;
using InfraMind.Node.Containers.Sandbox;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace InfraMind.Node.Models.Bundles;

/// <summary>How the node talks to a model's container.</summary>
public enum ModelProtocol
{
    /// <summary>POST /inference on the model's port, reached on the container's own loopback.</summary>
    Rest,

    /// <summary>Input on stdin, output on stdout; a fresh container per job.</summary>
    Stdio,
}

/// <summary>
/// A bundle's model.yaml (CONTRACT.md §8). Schemas are kept as compact JSON text: a short form such as
/// <c>text</c> becomes the string itself, a JSON Schema document its compact JSON, which is exactly what a
/// job's signed inputSchema/outputSchema carry.
/// </summary>
public sealed record ModelManifest(
    string Name,
    string Version,
    string? Runtime,
    string? Entrypoint,
    ModelProtocol Protocol,
    int Port,
    ResourceRequest Resources,
    string InputSchema,
    string OutputSchema)
{
    public const int MaxBytes = 64 * 1024;

    /// <summary>Keys the node does not use; kept, and reported as warnings.</summary>
    public IReadOnlyList<string> UnknownKeys { get; init; } = [];

    /// <summary>Parses model.yaml text; errors name the line and the key.</summary>
    public static ModelManifest Parse(string yaml)
    {
        if (Encoding.UTF8.GetByteCount(yaml) > MaxBytes)
            Fail(0, $"model.yaml is over {MaxBytes} bytes");
        var parser = new Parser(new StringReader(yaml));
        try
        {
            return new ManifestReader(parser).Read();
        }
        catch (YamlException e)
        {
            Fail(e.Start.Line, $"not valid YAML ({e.Message.Split('\n')[0]})");
            return null!;
        }
    }

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    internal static void Fail(long line, string message) =>
        throw new ManifestException(line > 0 ? $"model.yaml line {line}: {message}" : $"model.yaml: {message}");

    private sealed class ManifestReader(IParser parser)
    {
        private readonly List<string> _unknown = [];
        private string? _name, _version, _runtime, _entrypoint, _inputSchema, _outputSchema;
        private ModelProtocol _protocol = ModelProtocol.Rest;
        private int _port = 9000;
        private long _memory = ResourceRequest.Default.MemoryBytes, _cpu = ResourceRequest.Default.CpuMillicores;
        private bool _gpu;

        public ModelManifest Read()
        {
            parser.Consume<StreamStart>();
            parser.Consume<DocumentStart>();
            if (!parser.TryConsume<MappingStart>(out _))
                Fail(parser.Current?.Start.Line ?? 0, "the top level must be a map of keys such as name:, protocol:, resources:");
            while (!parser.TryConsume<MappingEnd>(out _))
            {
                Scalar key = parser.Consume<Scalar>();
                switch (key.Value)
                {
                    case "name": _name = Text(key); break;
                    case "version": _version = Text(key); break;
                    case "runtime": _runtime = Text(key); break;
                    case "entrypoint": _entrypoint = Text(key); break;
                    case "protocol":
                        _protocol = Text(key) switch
                        {
                            "rest" => ModelProtocol.Rest,
                            "stdio" => ModelProtocol.Stdio,
                            var other => Unsupported<ModelProtocol>(key, $"protocol '{other}' is not supported; use rest or stdio"),
                        };
                        break;
                    case "port": _port = Port(key, Text(key)); break;
                    case "ports": ReadPorts(); break;
                    case "resources": ReadResources(); break;
                    case "input_schema": _inputSchema = Schema(key); break;
                    case "output_schema": _outputSchema = Schema(key); break;
                    default:
                        _unknown.Add(key.Value);
                        parser.SkipThisAndNestedEvents();
                        break;
                }
            }

            if (_name is null)
                Fail(0, "name is missing");
            if (_inputSchema is null || _outputSchema is null)
                Fail(0, "input_schema and output_schema are both required (e.g. input_schema: {type: text})");
            return new ModelManifest(_name, _version ?? "0", _runtime, _entrypoint, _protocol, _port, new ResourceRequest(_memory, _cpu, _gpu), _inputSchema, _outputSchema)
            {
                UnknownKeys = _unknown,
            };
        }

        private void ReadPorts()
        {
            parser.Consume<MappingStart>();
            while (!parser.TryConsume<MappingEnd>(out _))
            {
                Scalar key = parser.Consume<Scalar>();
                if (key.Value == "inference")
                    _port = Port(key, Text(key));
                else
                    parser.SkipThisAndNestedEvents();
            }
        }

        private void ReadResources()
        {
            if (!parser.TryConsume<MappingStart>(out _))
                Fail(parser.Current?.Start.Line ?? 0, "resources must be a map of cpu, memory, gpu");
            while (!parser.TryConsume<MappingEnd>(out _))
            {
                Scalar key = parser.Consume<Scalar>();
                string value = Text(key);
                switch (key.Value)
                {
                    case "cpu":
                        if (!CpuQuantity.TryParse(value, out _cpu))
                            Fail(key.Start.Line, $"resources.cpu must be a number of CPUs (2, 0.5) or millicores (500m), got '{value}'");
                        break;
                    case "memory":
                        if (!ByteSize.TryParse(value, out _memory) || _memory < (4L << 20))
                            Fail(key.Start.Line, $"resources.memory must be a size of at least 4Mi such as 512Mi or 2Gi, got '{value}'");
                        break;
                    case "gpu":
                        _gpu = value switch
                        {
                            "true" => true,
                            "false" => false,
                            _ => Unsupported<bool>(key, $"resources.gpu must be true or false, got '{value}'"),
                        };
                        break;
                    default:
                        _unknown.Add("resources." + key.Value);
                        break;
                }
            }
        }

        private string Text(Scalar key)
        {
            if (parser.Current is not Scalar value)
            {
                Fail(key.Start.Line, $"{key.Value} must be a single value");
                return null!;
            }

            parser.MoveNext();
            return value.Value;
        }

        private static int Port(Scalar key, string text)
        {
            if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int port) || port is < 1 or > 65535)
                Fail(key.Start.Line, $"{key.Value} must be a TCP port from 1 to 65535, got '{text}'");
            return port;
        }

        /// <summary>
        /// A schema: `{type: text}` / `type: vector&lt;float&gt;` short forms become the type string; a JSON Schema
        /// map becomes its compact JSON text; a plain scalar is taken as the short form itself.
        /// </summary>
        private string Schema(Scalar key)
        {
            if (parser.Current is Scalar scalar)
            {
                parser.MoveNext();
                return scalar.Value;
            }

            var buffer = new ArrayBufferWriter<byte>();
            using (var json = new Utf8JsonWriter(buffer))
                WriteJson(json, depth: 0);
            string text = Encoding.UTF8.GetString(buffer.WrittenSpan);
            using JsonDocument document = JsonDocument.Parse(text);
            if (document.RootElement.ValueKind == JsonValueKind.Object
                && document.RootElement.EnumerateObject().Count() == 1
                && document.RootElement.TryGetProperty("type", out JsonElement type)
                && type.ValueKind == JsonValueKind.String
                && !IsJsonSchemaType(type.GetString()!))
            {
                return type.GetString()!; // {type: text}, {type: embedding<float>}: the short form
            }

            _ = key;
            return text;
        }

        private static bool IsJsonSchemaType(string type) =>
            type is "object" or "array" or "string" or "number" or "integer" or "boolean" or "null";

        private void WriteJson(Utf8JsonWriter json, int depth)
        {
            if (depth > 32)
                Fail(parser.Current?.Start.Line ?? 0, "a schema nested over 32 levels");
            switch (parser.Current)
            {
                case MappingStart:
                    parser.MoveNext();
                    json.WriteStartObject();
                    while (!parser.TryConsume<MappingEnd>(out _))
                    {
                        json.WritePropertyName(parser.Consume<Scalar>().Value);
                        WriteJson(json, depth + 1);
                    }

                    json.WriteEndObject();
                    break;
                case SequenceStart:
                    parser.MoveNext();
                    json.WriteStartArray();
                    while (!parser.TryConsume<SequenceEnd>(out _))
                        WriteJson(json, depth + 1);
                    json.WriteEndArray();
                    break;
                case Scalar scalar:
                    parser.MoveNext();
                    WriteScalar(json, scalar);
                    break;
                default:
                    Fail(parser.Current?.Start.Line ?? 0, "schemas may hold maps, lists and plain values only (no aliases)");
                    break;
            }
        }

        // YAML 1.2 core schema: plain true/false/null and numbers are typed; everything quoted is a string.
        private static void WriteScalar(Utf8JsonWriter json, Scalar scalar)
        {
            string v = scalar.Value;
            if (scalar.Style != ScalarStyle.Plain)
                json.WriteStringValue(v);
            else if (v is "true" or "false")
                json.WriteBooleanValue(v == "true");
            else if (v is "null" or "~" or "")
                json.WriteNullValue();
            else if (long.TryParse(v, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long integer))
                json.WriteNumberValue(integer);
            else if (double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out double number) && double.IsFinite(number))
                json.WriteNumberValue(number);
            else
                json.WriteStringValue(v);
        }

        private static T Unsupported<T>(Scalar key, string message)
        {
            Fail(key.Start.Line, message);
            return default!;
        }
    }
}

/// <summary>A model.yaml that cannot be used; the message names the line and the key.</summary>
public sealed class ManifestException(string message) : Exception(message);
