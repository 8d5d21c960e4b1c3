"""What the proxy remembers about each client connection between hooks, and the gate that uses it.

mitmproxy calls `server_connect` before it opens any upstream connection, whatever the protocol.
That one hook is where schoolgate fails closed: a connection reaches a server only if one of our
decision hooks approved it, so traffic that no decision saw (raw TCP in transparent mode, an error
in a hook, a protocol we did not expect) goes nowhere.
"""

from __future__ import annotations

from dataclasses import dataclass

from filter_proxy.enforcer import Verdict


@dataclass(slots=True)
class Note:
    """One client connection: what was decided for it so far."""

    approved: bool = False  # a decision let this connection reach a server
    refused: str | None = None  # why no server may ever be reached from it (overrides `approved`)
    connect_verdict: Verdict | None = None  # what was decided for the CONNECT target
    # Transparent mode: the name (SNI, or Host header) the connection was decided on. The proxy connects to
    # where this name leads, never to the address the device chose, which could be any other site's.
    name: str | None = None


class Notes:
    """Notes by mitmproxy client connection id; dropped when the client disconnects."""

    def __init__(self) -> None:
        self._by_client: dict[str, Note] = {}

    def get(self, client_id: str) -> Note:
        note = self._by_client.get(client_id)
        if note is None:
            note = self._by_client[client_id] = Note()
        return note

    def peek(self, client_id: str) -> Note | None:
        return self._by_client.get(client_id)

    def drop(self, client_id: str) -> None:
        self._by_client.pop(client_id, None)

    def __len__(self) -> int:
        return len(self._by_client)
