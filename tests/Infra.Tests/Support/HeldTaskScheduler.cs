using System.Collections.Concurrent;

namespace InfraMind.Node.Tests.Support;

/// <summary>A task scheduler that runs nothing until the test says so: the state before a background task has run.</summary>
public sealed class HeldTaskScheduler : TaskScheduler
{
    private readonly ConcurrentQueue<Task> _held = new();

    public int Held => _held.Count;

    /// <summary>Runs every held task on this thread; the number run.</summary>
    public int RunAll()
    {
        int ran = 0;
        while (_held.TryDequeue(out Task? task))
        {
            TryExecuteTask(task);
            ran++;
        }

        return ran;
    }

    protected override void QueueTask(Task task) => _held.Enqueue(task);

    protected override bool TryExecuteTaskInline(Task task, bool taskWasPreviouslyQueued) => false;

    protected override IEnumerable<Task> GetScheduledTasks() => _held.ToArray();
}
