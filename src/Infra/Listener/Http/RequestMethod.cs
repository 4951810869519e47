namespace InfraMind.Node.Listener.Http;

/// <summary>The request methods the server accepts; any other token is refused with 501 before a handler runs.</summary>
public enum RequestMethod : byte
{
    Get,
    Head,
    Post,
    Put,
    Patch,
    Delete,
    Options,
}

/// <summary>Header fields the parser recognises by name without making a string.</summary>
public enum KnownHeader : byte
{
    None,
    Host,
    ContentLength,
    TransferEncoding,
    Connection,
    Expect,
    ContentType,
    Accept,
}
