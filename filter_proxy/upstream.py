"""One line in the journal when an allowed connection cannot reach its server.

"Why won't this site load?" is the question the ICT technician brings to the journal. When the policy
allowed a site and the site itself refused or timed out, mitmproxy's own line for it is one of its
per-connection lines, which the proxy keeps quiet (they are a line per connection); so this addon
says it once, at INFO, with what the technician needs: the device, the name it asked for, the
address tried and the error.

It runs before `Destinations` pins the address, to note the name the client asked for; a connection
our own hooks refused (`server.error` already set) was never tried and is logged where it was refused.
"""

from __future__ import annotations

import logging

from mitmproxy.proxy import server_hooks
from mitmproxy.utils import human

log = logging.getLogger("schoolgate.proxy")


class UpstreamErrors:
    """Logs each failed upstream connection of an allowed client connection, once."""

    def __init__(self) -> None:
        self._asked: dict[str, str] = {}  # server connection id -> the host the client asked for

    def server_connect(self, data: server_hooks.ServerConnectionHookData) -> None:
        if data.server.error is None and data.server.address is not None:
            self._asked[data.server.id] = str(data.server.address[0])

    def server_connected(self, data: server_hooks.ServerConnectionHookData) -> None:
        self._asked.pop(data.server.id, None)

    def server_connect_error(self, data: server_hooks.ServerConnectionHookData) -> None:
        server = data.server
        host = self._asked.pop(server.id, None)
        if host is None or server.timestamp_start is None:
            return  # refused before any attempt (by our hooks, or a name that did not resolve): logged there
        address = human.format_address(server.address) if server.address else "?"
        client = data.client.peername[0] if data.client.peername else "?"
        log.info("upstream connection failed: client %s, host %s, address %s: %s", client, host, address,
                 server.error or "unknown error")
