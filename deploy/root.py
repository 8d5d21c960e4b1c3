"""The composition root: the one place that turns the configuration into running services.

Each service package defines the plain settings it needs (`dns_block.settings.DnsSettings`,
`admin_web.settings.WebSettings`, the filter proxy's mitmproxy options) and never reads the configuration;
this module translates `Config` into those settings, builds the pieces the enforcers share (database,
snapshot store, event writer, client networks) and hands them in. The service packages are imported inside
the builders, so a command that needs none of them (`schoolgate check`) loads none of them.
"""

from __future__ import annotations

import ipaddress
import logging
import os
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from deploy.config import Config, ConfigError, check_listeners, parse_hostport
from rules.policy.current import SnapshotStore
from rules.policy.names import is_ip_address
from rules.policy.networks import ClientNetworks
from rules.site_names import DEFAULT_SITE
from rules.store.db import Database
from rules.store.event_writer import EventWriter

if TYPE_CHECKING:
    from flask import Flask

    from admin_web.settings import WebSettings
    from deploy.web_certificate import CertFiles, Outcome
    from dns_block.settings import DnsSettings

dns_log = logging.getLogger("schoolgate.dns")
web_log = logging.getLogger("schoolgate.web")
ENV_UPSTREAM_CA = "SCHOOLGATE_PROXY_UPSTREAM_CA"  # tests only: a PEM CA to trust upstream, besides the system's


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


def spool_dir(config: Config, name: str) -> Path:
    """The spool folder of the service `name`: `state_dir/spool/name`, the school's name before it for any school
    but the default. Two schools' services run from one folder share `state_dir` (on PostgreSQL it is `var`
    under the working directory); with one spool folder, whichever writer held it stored both schools' events
    as its own school's. The default school keeps the folder of earlier versions (a spool left by an upgrade)."""
    folder = name if config.site.name == DEFAULT_SITE else f"{config.site.name}.{name}"
    return config.state_dir / "spool" / folder


def build_runtime(config: Config, name: str, poll_seconds: float = 1.0) -> EnforcerRuntime:
    """The shared pieces for the service `name` (its events spool under state_dir/spool/name), for the gateway's
    own school: its snapshot holds that school's devices and policy, its events carry that school's id."""
    from deploy.site import resolve_site

    db = Database(config.database.url)
    site_id = resolve_site(config, db)
    store = SnapshotStore(db, poll_seconds=poll_seconds, ban_allowlist=config.ban_allowlist, site_id=site_id)
    # Its own writer process stores the events (`rules.store.event_process`) with the school's id added to each
    # row: this process only appends them.
    writer = EventWriter(db, spool_dir(config, name), site_id=site_id, separate_process=True)
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


def proxy_options(config: Config, port: int) -> dict[str, object]:
    """mitmproxy's options for one worker, from [proxy], [web] and the state folder."""
    from filter_proxy import ca

    host, _ = parse_hostport(config.proxy.listen)
    listen = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    options: dict[str, object] = dict(
        mode=[f"{config.proxy.mode}@{listen}"],
        connection_strategy="lazy",  # nothing goes upstream before our hooks have decided
        confdir=str(ca.confdir(config.state_dir)),  # the school's CA, for intercept_tls
        block_global=False,  # who may connect is [network] client_networks (the Admission addon)
        stream_large_bodies="1m",  # stream big plain-HTTP bodies instead of buffering them
        schoolgate_public_url=config.web.public_url,
        schoolgate_intercept_tls=config.proxy.intercept_tls,
        schoolgate_connect_ports=[str(p) for p in config.proxy.connect_ports],
        schoolgate_internal_destinations=list(config.proxy.internal_destinations),
        schoolgate_own_addresses=own_addresses(config),
        schoolgate_own_services=own_services(config, port),
    )
    upstream_ca = os.environ.get(ENV_UPSTREAM_CA)
    if upstream_ca:
        options["ssl_verify_upstream_trusted_ca"] = upstream_ca
    return options


def own_addresses(config: Config) -> list[str]:
    """The addresses this gateway is configured to answer on (listeners, block page): the proxy never
    connects to them. The block page address is served by the proxy itself, so nothing is lost."""
    texts = [config.network.block_page_ipv4, config.network.block_page_ipv6, config.proxy.listen, config.web.listen,
             config.gateway.dns_bypass_listen, config.gateway.dot_catch_listen, *config.dns.listen]
    found = []
    for text in texts:
        host = text if is_ip_address(text) else parse_hostport(text)[0]
        if not ipaddress.ip_address(host).is_unspecified:
            found.append(host)
    return list(dict.fromkeys(found))


def own_services(config: Config, port: int) -> list[str]:
    """ADDRESS:PORT of the admin web and of the proxy's workers up to this one: never reached through the
    proxy, even when `[proxy] internal_destinations` covers their address."""
    web_host, web_port = parse_hostport(config.web.listen)
    proxy_host, proxy_port = parse_hostport(config.proxy.listen)
    services = [f"[{web_host}]:{web_port}"]
    services += [f"[{proxy_host}]:{p}" for p in range(proxy_port, max(port, proxy_port) + 1)]
    if port < proxy_port:
        services.append(f"[{proxy_host}]:{port}")
    return services


def proxy_addons(config: Config, runtime: EnforcerRuntime) -> list[object]:
    """The proxy's addons over the shared runtime; its own look-ups use the school's `[dns] upstreams`
    (else the system resolver)."""
    from filter_proxy import pipeline
    from filter_proxy.resolve import UpstreamResolver

    servers = [parse_hostport(item, default_port=53) for item in config.dns.upstreams]
    return pipeline.addons(runtime.store, runtime.writer.record, runtime.clients,
                           resolve=UpstreamResolver(servers) if servers else None)


def web_settings(config: Config) -> WebSettings:
    from admin_web.settings import WebSettings

    return WebSettings(public_url=config.web.public_url, session_idle_minutes=config.web.session_idle_minutes,
                       state_dir=config.state_dir)


def build_web(config: Config, db: Database) -> Flask:
    """The admin web's Flask app over `db` (the caller has checked it is initialised)."""
    from admin_web import create_app
    from deploy.site import resolve_site
    from rules.safeguarding.concerns import configure as configure_safeguarding

    configure_safeguarding(chair_email=config.safeguarding.chair_of_governors_email)
    return create_app(replace(web_settings(config), site_id=resolve_site(config, db)), db=db)


def web_tls_files(config: Config) -> CertFiles | None:
    """The certificate and key the admin web serves HTTPS with, checked; None when `public_url` is http://
    (which the configuration allows only with `[web] allow_http`, on loopback). ConfigError, naming the key,
    when there is no certificate or it cannot be served: the web never falls back to plain HTTP."""
    from urllib.parse import urlsplit

    from deploy.web_certificate import RENEW_BEFORE, CertFiles, CertificateError, check_pair, default_files

    web = config.web
    if urlsplit(web.public_url).scheme != "https":
        return None
    where = str(config.path) if config.path else "the defaults"
    if web.tls_cert:
        files = CertFiles(Path(web.tls_cert), Path(web.tls_key))
        for key, path in (("web.tls_cert", files.cert), ("web.tls_key", files.key)):
            if not path.is_file():
                raise ConfigError(f"{where}: '{key}' names {path}, which does not exist")
        labels, renew = ("'web.tls_cert'", "'web.tls_key'"), "replace the files"
    else:
        files = default_files(config.state_dir)
        if not files.cert.is_file() or not files.key.is_file():
            raise ConfigError(f"{where}: the admin web has no certificate: 'web.tls_cert' is not set and "
                              f"{files.cert} is missing; run `schoolgate init` (it makes one signed by the "
                              "school's CA), or set 'web.tls_cert' and 'web.tls_key'")
        made = "made by `schoolgate init` ('web.tls_cert' is not set)"
        labels, renew = (f"the certificate {made}", f"the key {made}"), "run `schoolgate init`"
    try:
        cert = check_pair(files, *labels)
    except CertificateError as exc:
        raise ConfigError(f"{where}: {exc}; {renew}") from None
    left = cert.not_valid_after_utc - datetime.now(UTC)
    if left < RENEW_BEFORE:
        web_log.warning("the admin web's certificate (%s) expires on %s: %s", files.cert,
                        f"{cert.not_valid_after_utc:%Y-%m-%d}", renew)
    return files


def ensure_web_certificate(config: Config) -> Outcome | None:
    """What `schoolgate init` does for HTTPS: unless `[web] tls_cert` is set (or the web is plain HTTP), keep or
    make the admin web's certificate, signed by the school's CA (made first if missing, as the proxy would)."""
    from urllib.parse import urlsplit

    from deploy.web_certificate import ensure_certificate
    from filter_proxy import ca

    if config.web.tls_cert or urlsplit(config.web.public_url).scheme != "https":
        return None
    state = config.state_dir
    return ensure_certificate(state, config.web.public_url, ca.ca_certificate_path(state), ca.ca_key_path(state))
