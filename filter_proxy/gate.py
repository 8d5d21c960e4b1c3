"""The last check before any upstream connection: only connections a decision approved go out.

`server_connect` runs for every server connection mitmproxy opens, whatever the protocol; with
`connection_strategy=lazy` it runs after the CONNECT, ClientHello or request hook has decided. A
connection no decision approved (or one a decision refused) gets `server.error`, so the client is
closed before a single byte goes upstream. This is what makes errors and unexpected protocols fail
closed.
"""

from __future__ import annotations

import logging

from mitmproxy import connection
from mitmproxy.proxy import server_hooks

from filter_proxy.notes import Notes

log = logging.getLogger("schoolgate.proxy")
REFUSED = "blocked by schoolgate"


class Gate:
    """Refuses server connections for clients without an approving decision; forgets closed clients."""

    def __init__(self, notes: Notes) -> None:
        self.notes = notes

    def server_connect(self, data: server_hooks.ServerConnectionHookData) -> None:
        try:
            note = self.notes.peek(data.client.id)
            if note is not None and note.approved and note.refused is None:
                return
            why = note.refused if note is not None and note.refused else "no decision approved this connection"
        except Exception:
            log.exception("ALERT: the gate failed; refusing the server connection")
            why = "error"
        log.debug("refused upstream %s for %s: %s", data.server.address, data.client.peername, why)
        data.server.error = f"{REFUSED}: {why}"

    def client_disconnected(self, client: connection.Client) -> None:
        self.notes.drop(client.id)
