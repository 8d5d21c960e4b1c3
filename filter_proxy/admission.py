"""Who may use the proxy at all: clients inside `[network] client_networks`, never an open proxy."""

from __future__ import annotations

import logging

from mitmproxy import connection

from rules.policy.networks import ClientNetworks, plain_ip

log = logging.getLogger("schoolgate.proxy")


class Admission:
    """Closes a client connection from outside the school's networks before anything is read from it."""

    def __init__(self, clients: ClientNetworks) -> None:
        self.clients = clients

    def client_connected(self, client: connection.Client) -> None:
        try:
            admitted = self.clients.contains(client.peername[0])
        except Exception:
            log.exception("ALERT: cannot check client %r against client_networks; refusing it", client.peername)
            admitted = False
        if not admitted:
            log.info("refused %s: not in client_networks", plain_ip(str(client.peername[0])))
            client.error = "not in the school's client networks"
