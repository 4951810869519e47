using InfraMind.Node.Agent;
using InfraMind.Node.Configuration;

namespace InfraMind.Node.Tests.Agent;

public class AgentLogTests
{
    private static string Written(LogLevel level)
    {
        var text = new StringWriter();
        var log = new AgentLog(text, level);
        log.Debug("d");
        log.Info("i");
        log.Warn("w");
        log.Error("e");
        return text.ToString().ReplaceLineEndings("|");
    }

    [Fact]
    public void Lines_below_the_level_are_not_written()
    {
        Assert.Equal("debug: d|info: i|warn: w|error: e|", Written(LogLevel.Debug));
        Assert.Equal("info: i|warn: w|error: e|", Written(LogLevel.Info));
        Assert.Equal("warn: w|error: e|", Written(LogLevel.Warn));
        Assert.Equal("error: e|", Written(LogLevel.Error));
    }

    [Fact]
    public void The_default_is_info()
    {
        var log = new AgentLog(TextWriter.Null);
        Assert.Equal(LogLevel.Info, log.Level);
        Assert.False(log.IsEnabled(LogLevel.Debug));
        Assert.True(log.IsEnabled(LogLevel.Warn));
    }
}
