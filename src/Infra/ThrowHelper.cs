using System.Diagnostics.CodeAnalysis;
using InfraMind.Node.Errors;

namespace InfraMind.Node;

/// <summary>Throws from one place so hot methods stay small enough to inline.</summary>
internal static class ThrowHelper
{
    [DoesNotReturn]
    public static void ThrowArgument(string parameter, string message) =>
        throw new ArgumentException(message, parameter);

    [DoesNotReturn]
    public static void ThrowUsage(string message) =>
        throw new InfraException(FailureKind.Usage, message);

    [DoesNotReturn]
    public static void ThrowConfiguration(string message) =>
        throw new InfraException(FailureKind.Configuration, message);

    [DoesNotReturn]
    public static void ThrowIdentity(string message, Exception? inner = null) =>
        throw new InfraException(FailureKind.Identity, message, inner);

    [DoesNotReturn]
    public static void ThrowRuntime(string message, Exception? inner = null) =>
        throw new InfraException(FailureKind.Runtime, message, inner);

    [DoesNotReturn]
    public static T ThrowConfiguration<T>(string message) =>
        throw new InfraException(FailureKind.Configuration, message);
}
