using InfraMind.Node.Containers.Sandbox;

namespace InfraMind.Node.Jobs.Admission;

/// <summary>
/// How many jobs run at once is bounded by what they declare (CPU, memory, GPUs), not by a fixed count.
/// Waiters are served first come, first served: a large job at the head is not starved by small ones behind it.
/// </summary>
public sealed class ResourceGate
{
    private readonly Lock _lock = new();
    private readonly LinkedList<Waiter> _waiters = new();
    private long _freeCpu;
    private long _freeMemory;
    private readonly bool[] _gpuInUse;

    public ResourceGate(long cpuMillicores, long memoryBytes, int gpus)
    {
        CpuMillicores = cpuMillicores;
        MemoryBytes = memoryBytes;
        _freeCpu = cpuMillicores;
        _freeMemory = memoryBytes;
        _gpuInUse = new bool[gpus];
    }

    public long CpuMillicores { get; }

    public long MemoryBytes { get; }

    public int Gpus => _gpuInUse.Length;

    public int Waiting
    {
        get
        {
            lock (_lock)
                return _waiters.Count;
        }
    }

    /// <summary>Whether the request could ever run here: larger than the whole host means never.</summary>
    public bool CouldEverFit(ResourceRequest request, out string reason)
    {
        if (request.CpuMillicores > CpuMillicores)
            reason = $"the model asks for {request.CpuMillicores}m CPU; this node has {CpuMillicores}m for jobs";
        else if (request.MemoryBytes > MemoryBytes)
            reason = $"the model asks for {request.MemoryBytes >> 20} MiB of memory; this node has {MemoryBytes >> 20} MiB for jobs";
        else if (request.Gpu && Gpus == 0)
            reason = "the model asks for a GPU; this node has none (NVML found no NVIDIA GPU)";
        else
        {
            reason = string.Empty;
            return true;
        }

        return false;
    }

    /// <summary>Waits until the request fits, then holds it until the lease is disposed.</summary>
    public ValueTask<ResourceLease> AcquireAsync(ResourceRequest request, CancellationToken cancellationToken)
    {
        if (!CouldEverFit(request, out string reason))
            throw new InvalidOperationException(reason);
        lock (_lock)
        {
            if (_waiters.Count == 0 && TryTake(request, out int gpu))
                return ValueTask.FromResult(new ResourceLease(this, request, gpu));
            var waiter = new Waiter(request);
            LinkedListNode<Waiter> node = _waiters.AddLast(waiter);
            waiter.Registration = cancellationToken.Register(() => Abandon(node));
            return new ValueTask<ResourceLease>(waiter.Completion.Task);
        }
    }

    private void Abandon(LinkedListNode<Waiter> node)
    {
        lock (_lock)
        {
            if (node.List is null)
                return;
            _waiters.Remove(node);
            node.Value.Completion.TrySetCanceled();
            ServeWaiters();
        }
    }

    internal void Return(ResourceRequest request, int gpu)
    {
        lock (_lock)
        {
            _freeCpu += request.CpuMillicores;
            _freeMemory += request.MemoryBytes;
            if (gpu >= 0)
                _gpuInUse[gpu] = false;
            ServeWaiters();
        }
    }

    private void ServeWaiters()
    {
        while (_waiters.First is { } head && TryTake(head.Value.Request, out int gpu))
        {
            _waiters.RemoveFirst();
            head.Value.Registration.Dispose();
            if (!head.Value.Completion.TrySetResult(new ResourceLease(this, head.Value.Request, gpu)))
                Return(head.Value.Request, gpu);
        }
    }

    private bool TryTake(ResourceRequest request, out int gpu)
    {
        gpu = -1;
        if (request.CpuMillicores > _freeCpu || request.MemoryBytes > _freeMemory)
            return false;
        if (request.Gpu)
        {
            gpu = Array.IndexOf(_gpuInUse, false);
            if (gpu < 0)
                return false;
            _gpuInUse[gpu] = true;
        }

        _freeCpu -= request.CpuMillicores;
        _freeMemory -= request.MemoryBytes;
        return true;
    }

    private sealed class Waiter(ResourceRequest request)
    {
        public ResourceRequest Request { get; } = request;

        public TaskCompletionSource<ResourceLease> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public CancellationTokenRegistration Registration { get; set; }
    }
}

/// <summary>Resources held by one running job; the GPU index is the one assigned to it (-1 for none).</summary>
public sealed class ResourceLease(ResourceGate gate, ResourceRequest request, int gpu) : IDisposable
{
    private int _disposed;

    public int GpuIndex { get; } = gpu;

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
            gate.Return(request, GpuIndex);
    }
}
