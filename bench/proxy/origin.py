"""A small, fast local origin for the proxy bench: HTTP or HTTPS, `/small` and `/bulk` (MB given by ?mb=)."""

from __future__ import annotations

import asyncio
import ssl
import sys

CHUNK = b"x" * (1 << 20)


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
        path = head.split(b" ", 2)[1].decode()
        if path.startswith("/bulk"):
            mb = int(path.partition("mb=")[2] or "256")
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                         b"Content-Length: %d\r\nConnection: close\r\n\r\n" % (mb << 20))
            for _ in range(mb):
                writer.write(CHUNK)
                await writer.drain()
        else:
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 6\r\n"
                         b"Connection: close\r\n\r\nhello\n")
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
        pass
    finally:
        writer.close()


async def main(port: int, cert: str | None, key: str | None) -> None:
    context = None
    if cert and key:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
    server = await asyncio.start_server(handle, "127.0.0.1", port, ssl=context, reuse_port=True, backlog=1024)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), *(sys.argv[2:4] if len(sys.argv) > 3 else (None, None))))
