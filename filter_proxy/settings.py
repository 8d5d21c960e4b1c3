"""The schoolgate options of the proxy, declared once and parsed once (mitmproxy's own addon style).

It also refuses to run with mitmproxy options that would open a hole: `connection_strategy` must be
lazy (an eager proxy connects upstream before the ClientHello is seen, so a blocked host would get
bytes), and `ssl_insecure` must stay off (upstream certificates are verified).
"""

from __future__ import annotations

from collections.abc import Set
from urllib.parse import urlsplit

from mitmproxy import ctx, exceptions
from mitmproxy.addonmanager import Loader

PUBLIC_URL = "schoolgate_public_url"
INTERCEPT_TLS = "schoolgate_intercept_tls"


class Settings:
    """Holds the parsed options; the decision hooks read `public_url` and `intercept_tls`."""

    def __init__(self) -> None:
        self.public_url = "http://127.0.0.1:8000"
        self.intercept_tls = False

    def load(self, loader: Loader) -> None:
        loader.add_option(PUBLIC_URL, str, self.public_url,
                          "The admin web's public address ([web] public_url): block pages link to its "
                          "'Request access' form.")
        loader.add_option(INTERCEPT_TLS, bool, self.intercept_tls,
                          "Serve the block page inside HTTPS (and read search terms) by intercepting TLS "
                          "with the school's CA. Only for devices that trust that CA.")

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
        if "connection_strategy" in updated and options.connection_strategy != "lazy":
            raise exceptions.OptionsError("schoolgate needs connection_strategy=lazy: with eager, a blocked "
                                          "host would be connected to before the TLS ClientHello is seen")
        if "ssl_insecure" in updated and options.ssl_insecure:
            raise exceptions.OptionsError("schoolgate verifies upstream certificates: ssl_insecure must stay off")
