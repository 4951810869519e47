using System.Globalization;
using InfraMind.Node.Errors;
using InfraMind.Node.Hardware;

namespace InfraMind.Node.Doctor;

/// <summary>
/// The cgroup layout (v1, v2 or hybrid) and whether the controllers the sandbox relies on (cpu, memory, pids) are
/// available to the agent's own cgroup, plus its limits as the agent reads them. Roots are parameters for fixture trees.
/// </summary>
public static class CgroupCheck
{
    /// <summary>The controllers whose limits the sandbox sets on every container (CONTRACT.md §8).</summary>
    public static readonly IReadOnlyList<string> Required = ["cpu", "memory", "pids"];

    private const string Name = "cgroups";

    /// <param name="insideContainer">Whether this process runs in a container; default: Docker's /.dockerenv or Podman's /run/.containerenv exists.</param>
    public static CheckResult Run(string procRoot = ContainerCgroup.DefaultProcRoot, string cgroupRoot = ContainerCgroup.DefaultCgroupRoot, int? processId = null, Func<bool>? insideContainer = null)
    {
        ContainerCgroup own;
        try
        {
            // Locate resolves every required controller and throws, with its fix, when a v1 hierarchy or the v2 tree is missing.
            own = ContainerCgroup.Locate(processId ?? Environment.ProcessId, procRoot, cgroupRoot);
        }
        catch (InfraException e) when (e.Kind == FailureKind.Runtime && (insideContainer ?? InContainer)()
            && NamesAnUnmountedFolder(procRoot, cgroupRoot, processId ?? Environment.ProcessId))
        {
            // In a container without a cgroup namespace /proc names a host folder that is not mounted here. The agent
            // then counts the host's CPU and memory (HostCapacity does the same), and still checks every job's own cgroup.
            return CheckResult.Warning(Name,
                $"the agent's own cgroup is not visible from inside this container ({OneLine(e.Message)}), so `infra run` would count the host's CPU and memory, not a limit",
                "run the node on the host, or give its container its own cgroup namespace (docker run --cgroupns=private)");
        }
        catch (InfraException e)
        {
            return CheckResult.FromError(Name, e.Message);
        }

        string layout = own.Version switch
        {
            CgroupVersion.V2 => "v2",
            CgroupVersion.Hybrid => "hybrid (v1 controllers, v2 tree at unified/)",
            _ => "v1",
        };

        var missing = new List<string>();
        string? v2Folder = null;
        foreach (CgroupController controller in new[] { own.Cpu, own.Memory, own.Pids })
        {
            if (controller.Version != CgroupVersion.V2)
                continue; // a v1 controller was found mounted with the agent's folder in it: it is available
            v2Folder = controller.Directory;
            if (!ListsController(controller.Directory, controller.Name, out string? problem))
            {
                if (problem is not null)
                    return CheckResult.FromError(Name, problem);
                missing.Add(controller.Name);
            }
        }

        if (missing.Count > 0)
        {
            string parent = Path.GetDirectoryName(v2Folder!.TrimEnd('/')) ?? cgroupRoot;
            string words = string.Join(' ', missing.Select(m => "+" + m));
            return CheckResult.Failed(Name,
                $"cgroup {layout}: {string.Join(", ", missing)} not available to the agent's cgroup {v2Folder} (its cgroup.controllers lacks them), so job limits cannot be enforced",
                $"enable them in the parent: echo '{words}' > {parent}/cgroup.subtree_control (under systemd, set Delegate=yes in the unit)");
        }

        string limits;
        try
        {
            CgroupLimits read = own.ReadLimits();
            limits = $"agent limits: memory {(read.MemoryBytes is { } b ? Configuration.ByteSize.Format(b) : "max")}, cpu {(read.CpuMillicores is { } m ? m.ToString(CultureInfo.InvariantCulture) + "m" : "max")}, pids {Show(read.Pids)}"
                + (read.SwapAccounting ? string.Empty : "; no swap accounting");
        }
        catch (InfraException e)
        {
            CheckResult unreadable = CheckResult.FromError(Name, e.Message);
            return CheckResult.Failed(Name, $"cgroup {layout}: limits unreadable: {unreadable.Detail}", unreadable.Fix ?? "check the cgroup filesystem");
        }

        return CheckResult.Ok(Name, $"{layout}, cpu, memory and pids available; {limits}");
    }

    /// <summary>Whether {folder}/cgroup.controllers lists the controller; a missing or unreadable file is a problem with its fix.</summary>
    private static bool ListsController(string folder, string controller, out string? problem)
    {
        problem = null;
        string path = Path.Join(folder, "cgroup.controllers");
        try
        {
            using var files = new CgroupFileReader();
            if (!files.TryRead(path, out ReadOnlySpan<byte> content))
            {
                problem = $"{path} is missing, so {folder} is not a cgroup v2 folder; fix: check that cgroup2 is mounted at the cgroup root";
                return false;
            }

            return CgroupText.ListsWord(content, controller);
        }
        catch (InfraException e)
        {
            problem = e.Message;
            return false;
        }
    }

    /// <summary>
    /// Whether /proc/PID/cgroup is well formed and one of its folders is missing under a hierarchy that is mounted:
    /// the mark of a container that sees its own cgroup at the root but the host's path in /proc.
    /// </summary>
    private static bool NamesAnUnmountedFolder(string procRoot, string cgroupRoot, int pid)
    {
        string file = Path.Join(procRoot, pid.ToString(CultureInfo.InvariantCulture), "cgroup");
        List<CgroupLine> lines;
        try
        {
            using var files = new CgroupFileReader();
            if (!files.TryRead(file, out ReadOnlySpan<byte> content))
                return false;
            lines = ProcCgroupFile.Parse(content, file);
        }
        catch (InfraException)
        {
            return false;
        }

        bool hasV1 = lines.Exists(l => !l.IsUnified);
        foreach (CgroupLine line in lines)
        {
            if (line.Path == "/" || (line.IsUnified && hasV1))
                continue;
            string hierarchy = line.IsUnified ? cgroupRoot : Path.Join(cgroupRoot, line.Controllers);
            if (Directory.Exists(hierarchy) && !Directory.Exists(Path.Join(hierarchy, line.Path.TrimStart('/'))))
                return true;
        }

        return false;
    }

    private static bool InContainer() => File.Exists("/.dockerenv") || File.Exists("/run/.containerenv");

    /// <summary>The problem part of an error message (its "; fix: …" tail is replaced by this check's own fix).</summary>
    private static string OneLine(string message)
    {
        int fix = message.IndexOf("; fix:", StringComparison.Ordinal);
        return fix < 0 ? message : message[..fix];
    }

    private static string Show(long? value) => value is { } v ? v.ToString(CultureInfo.InvariantCulture) : "max";
}
