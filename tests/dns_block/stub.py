"""A stand-in upstream resolver that tests (and bench/dns) run: fixed answers, UDP and TCP, and a log of
every question it was asked, so a test can prove a blocked name never went upstream.

- `*.tc.test`: over UDP an empty reply with TC=1 (forcing the TCP retry); over TCP the full answer;
- `nx.example.test`: NXDOMAIN with an SOA;
- `short.example.test`: A with TTL 1 (to see TTLs honoured);
- the SafeSearch names: fixed addresses;
- anything else: A 198.18.0.10 / AAAA 2001:db8::10 / TXT "stub", TTL 300; other types NODATA.
`Stub(silent=True)` reads queries and never answers: a dead upstream.

`asked` holds each question with its name in lower case (schoolgate sends names in random case, 0x20);
`received` holds each name exactly as it arrived, with the source port it came from.
"""

from __future__ import annotations

import argparse
import asyncio
import struct
import threading

from dnslib import AAAA, EDNS0, QTYPE, RCODE, RR, SOA, TXT, A, DNSRecord

FIXED_A = {
    "forcesafesearch.google.com": "216.239.38.120",
    "strict.bing.com": "204.79.197.220",
    "safe.duckduckgo.com": "52.142.124.215",
    "restrict.youtube.com": "216.239.38.120",
}
DEFAULT_A = "198.18.0.10"
DEFAULT_AAAA = "2001:db8::10"


def answer(data: bytes, tcp: bool) -> bytes:
    query = DNSRecord.parse(data)
    reply = query.reply()
    if any(rr.rtype == QTYPE.OPT for rr in query.ar):
        reply.add_ar(EDNS0(udp_len=1232))  # EDNS answered with EDNS, as a real resolver does
    name = str(query.q.qname).rstrip(".").lower()
    qtype = query.q.qtype
    if name.endswith(".tc.test") and not tcp:
        reply.header.tc = 1
        return reply.pack()
    if name == "nx.example.test":
        reply.header.rcode = RCODE.NXDOMAIN
        reply.add_auth(RR("example.test", QTYPE.SOA, ttl=60,
                          rdata=SOA("ns.example.test", "admin.example.test", (1, 3600, 600, 86400, 60))))
        return reply.pack()
    ttl = 1 if name == "short.example.test" else 300
    if qtype == QTYPE.A:
        count = 40 if name.endswith(".tc.test") else 1
        for i in range(count):
            address = FIXED_A.get(name, DEFAULT_A if count == 1 else f"198.18.1.{i + 1}")
            reply.add_answer(RR(query.q.qname, QTYPE.A, rdata=A(address), ttl=ttl))
    elif qtype == QTYPE.AAAA:
        reply.add_answer(RR(query.q.qname, QTYPE.AAAA, rdata=AAAA(DEFAULT_AAAA), ttl=ttl))
    elif qtype == QTYPE.TXT:
        reply.add_answer(RR(query.q.qname, QTYPE.TXT, rdata=TXT("stub"), ttl=ttl))
    return reply.pack()


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, stub: Stub) -> None:
        self.stub = stub
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.stub.note(data, "udp", addr[1])
        if not self.stub.silent and self.transport is not None:
            self.transport.sendto(answer(data, False), addr)


class Stub:
    """The stand-in, in a thread of its own: `with Stub() as stub: ... stub.port, stub.asked`."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, silent: bool = False) -> None:
        self.host = host
        self.port = port
        self.silent = silent
        self.asked: list[tuple[str, str, str]] = []  # (name in lower case, type, udp|tcp)
        self.received: list[tuple[str, int, str]] = []  # (name exactly as received, source port, udp|tcp)
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def note(self, data: bytes, proto: str, port: int) -> None:
        try:
            q = DNSRecord.parse(data).q
            name = str(q.qname).rstrip(".")
            self.asked.append((name.lower(), QTYPE.get(q.qtype, str(q.qtype)), proto))
            self.received.append((name, port, proto))
        except Exception:
            self.asked.append(("?", "?", proto))

    def names(self) -> set[str]:
        return {name.lower() for name, _, _ in self.asked}

    async def _tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        try:
            while True:
                (length,) = struct.unpack("!H", await reader.readexactly(2))
                data = await reader.readexactly(length)
                self.note(data, "tcp", peer[1])
                if self.silent:
                    continue
                out = answer(data, True)
                writer.write(struct.pack("!H", len(out)) + out)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def _start(self) -> None:
        for _ in range(50):  # the kernel's free UDP port may be taken for TCP: then try another
            transport, _ = await self._loop.create_datagram_endpoint(lambda: _Udp(self),
                                                                     local_addr=(self.host, self.port))
            port = transport.get_extra_info("sockname")[1]
            try:
                self._server = await asyncio.start_server(self._tcp, self.host, port)
            except OSError:
                transport.close()
                if self.port:
                    raise
                continue
            self.port, self._udp = port, transport
            return
        raise OSError("no port free for both UDP and TCP")

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._start())
        self._ready.set()
        self._loop.run_forever()
        self._udp.close()
        self._server.close()
        self._loop.run_until_complete(self._server.wait_closed())
        self._loop.close()

    def __enter__(self) -> Stub:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    with Stub(port=args.port) as stub:
        print(f"stub upstream on 127.0.0.1:{stub.port}", flush=True)
        threading.Event().wait()


if __name__ == "__main__":
    main()
