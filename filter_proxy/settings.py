"""The schoolgate options of the proxy, declared once and parsed once (mitmproxy's own addon style).

It also refuses to run with mitmproxy options that would open a hole: `connection_strategy` must be
lazy (an eager proxy connects upstream before the ClientHello is seen, so a blocked host would get
bytes), and `ssl_insecure` must stay off (upstream certificates are verified).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence, Set
from urllib.parse import urlsplit

from mitmproxy import ctx, exceptions
from mitmproxy.addonmanager import Loader

PUBLIC_URL = "schoolgate_public_url"
INTERCEPT_TLS = "schoolgate_intercept_tls"
CONNECT_PORTS = "schoolgate_connect_ports"
INTERNAL_DESTINATIONS = "schoolgate_internal_destinations"
OWN_ADDRESSES = "schoolgate_own_addresses"
OWN_SERVICES = "schoolgate_own_services"


class Settings:
    """Holds the parsed options; the decision hooks read `public_url` and `intercept_tls`."""

    def __init__(self) -> None:
        self.public_url = "https://127.0.0.1:8000"  # as [web] public_url's default; the root always sets it
        self.intercept_tls = False
        self.connect_ports: frozenset[int] = frozenset({443})
        self.internal_destinations: tuple[IPNetwork, ...] = ()
        self.own_addresses: frozenset[IPAddress] = frozenset()
        self.own_services: tuple[tuple[IPAddress, int], ...] = ()

    def load(self, loader: Loader) -> None:
        loader.add_option(PUBLIC_URL, str, self.public_url,
                          "The admin web's public address ([web] public_url): block pages link to its "
                          "'Request access' form.")
        loader.add_option(INTERCEPT_TLS, bool, self.intercept_tls,
                          "Serve the block page inside HTTPS (and read search terms) by intercepting TLS "
                          "with the school's CA. Only for devices that trust that CA.")
        loader.add_option(CONNECT_PORTS, Sequence[str], ["443"],
                          "Ports a CONNECT may go to ([proxy] connect_ports); any other gets 403.")
        loader.add_option(INTERNAL_DESTINATIONS, Sequence[str], [],
                          "Internal networks the proxy may connect to ([proxy] internal_destinations).")
        loader.add_option(OWN_ADDRESSES, Sequence[str], [],
                          "This gateway's configured addresses (listen, block page): never connected to.")
        loader.add_option(OWN_SERVICES, Sequence[str], [],
                          "ADDRESS:PORT of schoolgate's own services (proxy, admin web): never connected to, "
                          "whatever internal_destinations says.")

    def configure(self, updated: Set[str]) -> None:
        options = ctx.options
        if PUBLIC_URL in updated:
            url = getattr(options, PUBLIC_URL)
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise exceptions.OptionsError(f"{PUBLIC_URL} must be an http:// or https:// URL, not {url!r}")
            self.public_url = url.rstrip("/")
        if INTERCEPT_TLS in updated:
            self.intercept_tls = bool(getattr(options, INTERCEPT_TLS))
        if CONNECT_PORTS in updated:
            self.connect_ports = frozenset(_port(CONNECT_PORTS, text) for text in getattr(options, CONNECT_PORTS))
        if INTERNAL_DESTINATIONS in updated:
            self.internal_destinations = tuple(_parsed(INTERNAL_DESTINATIONS, ipaddress.ip_network, text)
                                               for text in getattr(options, INTERNAL_DESTINATIONS))
        if OWN_ADDRESSES in updated:
            self.own_addresses = frozenset(_parsed(OWN_ADDRESSES, ipaddress.ip_address, text)
                                           for text in getattr(options, OWN_ADDRESSES))
        if OWN_SERVICES in updated:
            self.own_services = tuple(_service(text) for text in getattr(options, OWN_SERVICES))
        if "connection_strategy" in updated and options.connection_strategy != "lazy":
            raise exceptions.OptionsError("schoolgate needs connection_strategy=lazy: with eager, a blocked "
                                          "host would be connected to before the TLS ClientHello is seen")
        if "ssl_insecure" in updated and options.ssl_insecure:
            raise exceptions.OptionsError("schoolgate verifies upstream certificates: ssl_insecure must stay off")


IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def _parsed[T](option: str, parse: Callable[..., T], text: str) -> T:
    try:
        return parse(text) if parse is not ipaddress.ip_network else parse(text, strict=False)
    except ValueError:
        raise exceptions.OptionsError(f"{option}: {text!r} is not valid here") from None


def _port(option: str, text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise exceptions.OptionsError(f"{option}: {text!r} is not a port from 1 to 65535")
    return int(text)


def _service(text: str) -> tuple[IPAddress, int]:
    host, _, port = text.rpartition(":")
    return _parsed(OWN_SERVICES, ipaddress.ip_address, host.strip("[]")), _port(OWN_SERVICES, port)
