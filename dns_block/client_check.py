"""The first link: answer only the school's own networks (`[network] client_networks`).

Anyone else gets REFUSED, so the gateway can never be used as an open resolver (and so never as an
amplifier in someone else's attack). It sits first because nothing else should run for a stranger.
"""

from __future__ import annotations

from dns_block import wire
from rules.policy.networks import ClientNetworks


class ClientCheck:
    """Membership of the client networks; `refusal()` is the reply for everyone else."""

    def __init__(self, networks: ClientNetworks) -> None:
        self.allowed = networks.contains  # cached per address, so one dict look-up per query

    def refusal(self, query: bytes) -> bytes:
        return wire.error_reply(query, wire.REFUSED)
