using System.Buffers;
using System.Runtime.InteropServices;
using InfraMind.Node.Interop;

namespace InfraMind.Node.Models.Fetch;

/// <summary>
/// A buffer of anonymous memory of its own, mapped when made and unmapped when disposed. A fetch's chunks used to be
/// rented from the shared array pool, which kept them (4 MiB, every page written) resident in the node for good after
/// its first fetch, since an idle node runs no collection that would trim the pool. Unmapped, they go back to the kernel
/// the moment the fetch ends.
/// </summary>
/// <remarks>
/// Whoever holds its <see cref="Memory{T}"/> must be done with it before the dispose: a use of the Memory after it is
/// refused (ObjectDisposedException), and a span taken before it faults, where a pooled array would have handed over
/// another owner's bytes. The one user, <see cref="BackgroundSha256"/>, disposes its chunks after its hash thread has
/// stopped and its producer has stopped posting.
/// </remarks>
internal sealed unsafe class MappedChunk : MemoryManager<byte>
{
    private readonly int _length;
    private nint _address;

    public MappedChunk(int length)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(length, 1);
        nint address = Libc.Mmap(0, (nuint)length, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_PRIVATE | Libc.MAP_ANONYMOUS, -1, 0);
        if (address == Libc.MAP_FAILED)
            ThrowHelper.ThrowRuntime($"could not map {length} bytes for a fetch buffer: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
        _address = address;
        _length = length;
    }

    public override Span<byte> GetSpan()
    {
        ObjectDisposedException.ThrowIf(_address == 0, this);
        return new Span<byte>((void*)_address, _length);
    }

    // Mapped memory never moves: pinning is the address.
    public override MemoryHandle Pin(int elementIndex = 0)
    {
        ObjectDisposedException.ThrowIf(_address == 0, this);
        ArgumentOutOfRangeException.ThrowIfNegative(elementIndex);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(elementIndex, _length);
        return new MemoryHandle((byte*)_address + elementIndex);
    }

    public override void Unpin()
    {
    }

    protected override void Dispose(bool disposing)
    {
        nint address = Interlocked.Exchange(ref _address, 0);
        if (address != 0)
            _ = Libc.Munmap(address, (nuint)_length); // fails only for an address that was never mapped
    }
}
