namespace InfraMind.Node.Cli;

/// <summary>Files the commands read whole: a path, or "-" for stdin, read no further than a limit.</summary>
internal static class InputFile
{
    /// <summary>
    /// The bytes of <paramref name="file"/> ("-": stdin), or false as soon as more than <paramref name="limit"/>
    /// bytes arrive (a pipe has no length to check first). IO and permission errors are the caller's to word.
    /// </summary>
    public static bool TryReadBounded(string file, long limit, out byte[] bytes)
    {
        using Stream stream = file == "-" ? Console.OpenStandardInput() : File.OpenRead(file);
        using var copy = new MemoryStream();
        byte[] chunk = new byte[81920];
        int read;
        while ((read = stream.Read(chunk)) > 0)
        {
            copy.Write(chunk, 0, read);
            if (copy.Length > limit)
            {
                bytes = [];
                return false;
            }
        }

        bytes = copy.ToArray();
        return true;
    }
}
