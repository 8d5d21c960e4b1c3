"""The composition root: the one place that turns the configuration into running services.

Each service package defines the plain settings it needs (`dns_block.settings.DnsSettings`,
`admin_web.settings.WebSettings`) and never reads the configuration; this module translates `Config` into
those settings, builds the pieces the enforcers share (database, snapshot store, event writer, client
networks) and hands them in. The service packages are imported inside the builders, so a command that
needs none of them (`schoolgate check`) loads none of them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from deploy.config import Config, check_listeners, parse_hostport
from rules.policy.current import SnapshotStore
from rules.policy.networks import ClientNetworks
from rules.store.db import Database
from rules.store.event_writer import EventWriter

if TYPE_CHECKING:
    from flask import Flask

    from admin_web.settings import WebSettings
    from dns_block.settings import DnsSettings

dns_log = logging.getLogger("schoolgate.dns")


@dataclass
class EnforcerRuntime:
    """What DNS and the proxy share: started by `start()`, stopped (events flushed) by `stop()`."""

    db: Database
    store: SnapshotStore
    writer: EventWriter
    clients: ClientNetworks

    def start(self) -> EnforcerRuntime:
        self.store.start()
        self.writer.start()
        return self

    def stop(self) -> None:
        self.store.stop()
        self.writer.stop()


def build_runtime(config: Config, name: str, poll_seconds: float = 1.0) -> EnforcerRuntime:
    """The shared pieces for the service `name` (its events spool under state_dir/spool/name)."""
    db = Database(config.database.url)
    store = SnapshotStore(db, poll_seconds=poll_seconds, ban_allowlist=config.ban_allowlist)
    writer = EventWriter(db, config.state_dir / "spool" / name)
    return EnforcerRuntime(db, store, writer, ClientNetworks(config.network.client_networks))


def dns_settings(config: Config) -> DnsSettings:
    """[dns], [network] and the gateway's DNS listeners, parsed; ConfigError (key named) on a port clash."""
    from dns_block.settings import DnsSettings

    check_listeners(config)
    dns, network, gateway = config.dns, config.network, config.gateway
    return DnsSettings(
        listen=tuple(parse_hostport(item) for item in dns.listen),
        bypass=parse_hostport(gateway.dns_bypass_listen),
        dot_catch=parse_hostport(gateway.dot_catch_listen),
        port_catch=parse_hostport(gateway.port_catch_listen),
        upstreams=tuple(parse_hostport(item, default_port=53) for item in dns.upstreams),
        blocked_answer=dns.blocked_answer,
        block_page_ipv4=network.block_page_ipv4,
        block_page_ipv6=network.block_page_ipv6,
        rate_limit_qps=dns.rate_limit_qps,
        max_cache_ttl=dns.max_cache_ttl,
    )


def serve_dns(config: Config, name: str, reuse_port: bool = False) -> None:
    """Build the DNS service and its runtime, serve until SIGTERM/SIGINT, then flush the events."""
    from dns_block.service import DnsService, serve

    settings = dns_settings(config)  # a bad configuration stops here, before anything is opened
    runtime = build_runtime(config, name)
    service = DnsService(settings, runtime.store, runtime.clients, runtime.writer.record, reuse_port)
    runtime.start()
    try:
        serve(service)
    finally:
        runtime.stop()
        stats = runtime.writer.stats
        dns_log.info("stopped; %d access events written, %d spooled", stats.written, stats.spooled)


def web_settings(config: Config) -> WebSettings:
    from admin_web.settings import WebSettings

    return WebSettings(public_url=config.web.public_url, session_idle_minutes=config.web.session_idle_minutes,
                       state_dir=config.state_dir)


def build_web(config: Config, db: Database) -> Flask:
    """The admin web's Flask app over `db` (the caller has checked it is initialised)."""
    from admin_web import create_app

    return create_app(web_settings(config), db=db)
