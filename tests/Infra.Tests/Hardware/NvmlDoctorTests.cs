using InfraMind.Node.Tests.Support;

namespace InfraMind.Node.Tests.Hardware;

/// <summary>`infra doctor` against the fake NVML in a child process, configured through the environment as an operator would.</summary>
public sealed class NvmlDoctorTests : IDisposable
{
    private readonly TempFolder _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void The_fake_answers_to_its_environment_in_a_child_process()
    {
        // The environment knobs are for out-of-process use; this also proves INFRAMIND_NVML_LIBRARY is not refused as a config key.
        string library = FakeNvml.Build(_dir);
        var environment = new Dictionary<string, string>
        {
            ["INFRAMIND_NVML_LIBRARY"] = library,
            ["FAKE_NVML_GPUS"] = "2",
            ["FAKE_NVML_NAME"] = "NVIDIA H100 80GB HBM3",
        };
        InfraProcess.Result ready = InfraProcess.Run(_dir.Path, environment, "doctor");
        Assert.Contains("ok    gpu         NVIDIA driver 550.54.15, 2 GPU(s): 0 NVIDIA H100 80GB HBM3 (81920 MiB, compute 9.0), 1 NVIDIA H100 80GB HBM3 (81920 MiB, compute 9.0)\n", ready.StdOut, StringComparison.Ordinal);

        environment["FAKE_NVML_FAIL_INIT"] = "9";
        InfraProcess.Result failed = InfraProcess.Run(_dir.Path, environment, "doctor");
        Assert.Contains("warn  gpu         nvmlInit_v2 failed: Driver Not Loaded (NVML error 9): GPU jobs will be rejected\n", failed.StdOut, StringComparison.Ordinal);
        Assert.Contains("fix: load the NVIDIA kernel driver", failed.StdOut, StringComparison.Ordinal);
        Assert.DoesNotContain("INFRAMIND_NVML_LIBRARY is not a configuration key", failed.StdOut + failed.StdErr, StringComparison.Ordinal);
    }
}
