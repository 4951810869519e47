namespace InfraMind.Node.Telemetry;

/// <summary>
/// Samples <see cref="HostLoad"/> and <see cref="ProcessStats"/> on a period (1 s by default) so that heartbeats,
/// status and scrapes read the last values for free instead of touching procfs and cgroupfs on every request.
/// </summary>
public sealed class TelemetrySampler
{
    public static readonly TimeSpan DefaultInterval = TimeSpan.FromSeconds(1);

    private readonly HostLoad _host;
    private readonly ProcessStats _process;
    private readonly TimeProvider _time;
    private HostLoadSample _latestHost = HostLoadSample.Unknown;
    private ProcessBox? _latestProcess;

    public TelemetrySampler(HostLoad host, ProcessStats process, TimeSpan? interval = null, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(host);
        ArgumentNullException.ThrowIfNull(process);
        Interval = interval ?? DefaultInterval;
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(Interval, TimeSpan.Zero, nameof(interval));
        _host = host;
        _process = process;
        _time = time ?? TimeProvider.System;
    }

    public TimeSpan Interval { get; }

    /// <summary>The last host load; <see cref="HostLoadSample.Unknown"/> before the first sample.</summary>
    public HostLoadSample LatestHost => Volatile.Read(ref _latestHost);

    /// <summary>The last process figures; null before the first sample.</summary>
    public ProcessSample? LatestProcess => Volatile.Read(ref _latestProcess)?.Value;

    /// <summary>Takes one sample now and publishes it.</summary>
    public void SampleNow()
    {
        HostLoadSample host = _host.Sample();
        ProcessSample process = _process.Read();
        Volatile.Write(ref _latestHost, host);
        // Boxed so readers see the whole struct from one sample, never half of two.
        Volatile.Write(ref _latestProcess, new ProcessBox(process));
    }

    /// <summary>Samples now and then every <see cref="Interval"/> until <paramref name="cancellationToken"/> fires; then returns.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        SampleNow();
        using var timer = new PeriodicTimer(Interval, _time);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
                SampleNow();
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Shutdown: the last sample stays readable.
        }
    }

    private sealed record ProcessBox(ProcessSample Value);
}
