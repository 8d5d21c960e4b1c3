"""Load and check the one TOML configuration file (every key is listed in docs/configuration.md).

Every key has a safe default, so an empty file (or none) runs everything on loopback. A key that is
unknown, or a value of the wrong kind, stops start-up with a message that names the key and the file:
schoolgate never starts half-configured.
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from rules.policy.names import InvalidHost, normalize_host
from rules.site_names import SITE_NAME_PATTERN

ENV_CONFIG = "SCHOOLGATE_CONFIG"
ENV_DATABASE = "SCHOOLGATE_DATABASE_URL"


class ConfigError(Exception):
    """A configuration problem, with the file and key in the message."""


@dataclass(frozen=True)
class DatabaseConfig:
    url: str = "sqlite:///var/schoolgate.db"


@dataclass(frozen=True)
class NetworkConfig:
    block_page_ipv4: str = "127.0.0.1"
    block_page_ipv6: str = "::1"
    client_networks: tuple[str, ...] = (
        "127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7",
    )


@dataclass(frozen=True)
class DnsConfig:
    listen: tuple[str, ...] = ("127.0.0.1:5353",)
    upstreams: tuple[str, ...] = ()
    blocked_answer: str = "block_page"
    rate_limit_qps: int = 1000
    # the longest an answer is cached, in seconds; upstream TTLs above it are lowered to it
    max_cache_ttl: int = 3600


@dataclass(frozen=True)
class ProxyConfig:
    listen: str = "127.0.0.1:8080"
    mode: str = "regular"
    intercept_tls: bool = False
    # CONNECT (HTTPS through the explicit proxy) goes only to these ports: a tunnel to 22 or 25 would
    # carry SSH or mail past the filter.
    connect_ports: tuple[int, ...] = (443,)
    # Networks the school deliberately serves through the proxy (an intranet on 10.0.0.5, say). Every
    # other internal address (loopback, private, link-local, the gateway's own) is refused.
    internal_destinations: tuple[str, ...] = ()


@dataclass(frozen=True)
class GatewayConfig:
    lan_interfaces: tuple[str, ...] = ()
    staff_networks: tuple[str, ...] = ()
    dns_bypass_listen: str = "127.0.0.1:5354"
    # DNS over TLS / QUIC (853) from the LAN is redirected here; `schoolgate dns` records it and closes it.
    dot_catch_listen: str = "127.0.0.1:5853"
    # Every other new TCP/UDP attempt from the LAN that allowed_egress does not allow is redirected here;
    # `schoolgate dns` records it (signal "blocked_port") and closes it.
    port_catch_listen: str = "127.0.0.1:5854"
    # What the LAN may still reach directly besides web and DNS, e.g. ["udp/123", "tcp/993", "tcp/5000-5010"].
    allowed_egress: tuple[str, ...] = ()
    # DHCP lease files that tell IP -> MAC (dnsmasq or ISC Kea CSV); a missing file is skipped.
    lease_files: tuple[str, ...] = ("/var/lib/misc/dnsmasq.leases", "/var/lib/kea/kea-leases4.csv")


@dataclass(frozen=True)
class WebConfig:
    listen: str = "127.0.0.1:8000"
    public_url: str = "https://127.0.0.1:8000"
    session_idle_minutes: int = 30  # the admin web signs a person out after this long without a request
    # PEM files the admin web serves HTTPS with; empty: the certificate `schoolgate init` makes, signed by
    # the school's CA (deploy/web_certificate.py). Set both or neither.
    tls_cert: str = ""
    tls_key: str = ""
    # Plain HTTP (an http:// public_url): passwords and session cookies in clear, so loopback development only.
    allow_http: bool = False


@dataclass(frozen=True)
class RetentionConfig:
    """How long personal data is kept before the retention job deletes it (see rules.jobs.retention)."""

    access_log_days: int = 90  # access events, weekly report files, person filters in audit entries
    ban_days: int = 365  # a closed ban (lifted, expired), with its evidence, this long after it ended
    audit_days: int = 2190  # audit entries: six years, the usual safeguarding record period


@dataclass(frozen=True)
class BansConfig:
    """The circumvention detector and what a banned device may still reach: each school has its own
    learning platform that a banned pupil must keep, so the allowlist is the operator's to set."""

    allowlist: tuple[str, ...] = ()  # e.g. the learning platform; the admin web's own host is always added
    threshold: int = 10
    window_minutes: int = 15


@dataclass(frozen=True)
class SmtpConfig:
    """Where the weekly report is emailed; an empty host (the default) means "do not email"."""

    host: str = ""
    port: int = 25
    from_address: str = ""
    to: tuple[str, ...] = ()
    # "starttls" (upgrade the connection, usually port 25 or 587), "tls" (TLS from the start, usually 465),
    # or "none"; the server's certificate and name are always verified when TLS is used.
    tls: str = "starttls"


@dataclass(frozen=True)
class SafeguardingConfig:
    """Safeguarding monitoring: where a concern about the headteacher goes (rules.safeguarding.routing)."""

    # A concern about the headteacher is emailed here; empty: routed to the DSL instead (logged).
    chair_of_governors_email: str = ""


@dataclass(frozen=True)
class SiteConfig:
    """Which school of a multi-academy trust this gateway serves. Several gateways can share one PostgreSQL
    database; each enforces, logs and schedules for its own school. A single school keeps "default"."""

    name: str = "default"


@dataclass(frozen=True)
class Config:
    """The whole configuration; `path` is the file it came from (None: defaults only)."""

    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    network: NetworkConfig = field(default_factory=NetworkConfig)
    dns: DnsConfig = field(default_factory=DnsConfig)
    proxy: ProxyConfig = field(default_factory=ProxyConfig)
    gateway: GatewayConfig = field(default_factory=GatewayConfig)
    web: WebConfig = field(default_factory=WebConfig)
    retention: RetentionConfig = field(default_factory=RetentionConfig)
    bans: BansConfig = field(default_factory=BansConfig)
    smtp: SmtpConfig = field(default_factory=SmtpConfig)
    safeguarding: SafeguardingConfig = field(default_factory=SafeguardingConfig)
    site: SiteConfig = field(default_factory=SiteConfig)
    path: Path | None = None

    @property
    def ban_allowlist(self) -> tuple[str, ...]:
        """Names a banned device may still reach: the configured list and the admin web's own host."""
        names = [normalize_host(n) for n in self.bans.allowlist]
        host = urlsplit(self.web.public_url).hostname
        if host:
            names.append(host.lower())
        return tuple(dict.fromkeys(names))

    @property
    def state_dir(self) -> Path:
        """Where spool files and other state live: beside a SQLite database, else ./var."""
        url = self.database.url
        if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
            return Path(url.removeprefix("sqlite:///")).parent
        return Path("var")


SECTIONS: dict[str, type] = {
    "database": DatabaseConfig, "network": NetworkConfig, "dns": DnsConfig, "proxy": ProxyConfig,
    "gateway": GatewayConfig, "web": WebConfig, "retention": RetentionConfig, "bans": BansConfig,
    "smtp": SmtpConfig, "safeguarding": SafeguardingConfig, "site": SiteConfig,
}
INT_LISTS = {("proxy", "connect_ports")}  # list keys whose items are whole numbers, not strings
CHOICES = {
    ("dns", "blocked_answer"): ("block_page", "nxdomain", "null"),
    ("proxy", "mode"): ("regular", "transparent"),
    ("smtp", "tls"): ("starttls", "tls", "none"),
}
# Keys that were removed, with what to write instead: a clear error, never a silent default.
REMOVED = {
    ("smtp", "starttls"): "'smtp.starttls' was replaced by 'smtp.tls': write tls = \"starttls\" (the default), "
                          "\"tls\" (TLS from the start, usually port 465) or \"none\"",
}
LOOPBACK_ONLY = "loopback development only"


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Read the file named by `path`, or by $SCHOOLGATE_CONFIG, or use the defaults; then check it."""
    chosen = path if path is not None else os.environ.get(ENV_CONFIG) or None
    raw: dict[str, Any] = {}
    where = "the defaults"
    file_path = None
    if chosen is not None:
        file_path = Path(chosen)
        where = str(file_path)
        try:
            raw = tomllib.loads(file_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{where}: configuration file not found") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{where}: cannot read the configuration file ({exc})") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{where}: not valid TOML: {exc}") from None
    sections: dict[str, Any] = {}
    for name, value in raw.items():
        if name not in SECTIONS:
            raise ConfigError(f"{where}: unknown section [{name}]; known sections: {', '.join(SECTIONS)}")
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: '{name}' must be a [section] table")
        sections[name] = _section(where, name, SECTIONS[name], value)
    env_url = os.environ.get(ENV_DATABASE)
    if env_url:
        sections["database"] = DatabaseConfig(url=_check_value(f"${ENV_DATABASE}", "database", "url", env_url))
    config = Config(**sections, path=file_path)
    _check_together(where, config)
    return config


def _check_together(where: str, config: Config) -> None:
    """Checks that need two keys at once: how the admin web is reached, and who may reach it on a gateway.

    Staff passwords and session cookies must never cross the school's network in clear, and pupils share
    that network: plain HTTP is only for a developer's own machine, and a gateway must say which networks
    are staff's (empty would mean every device, so a pupil could reach the sign-in page)."""
    web, gateway = config.web, config.gateway
    listen_host = parse_hostport(web.listen)[0]
    if web.allow_http and (gateway.lan_interfaces or not ipaddress.ip_address(listen_host).is_loopback):
        raise ConfigError(f"{where}: 'web.allow_http' = true is for {LOOPBACK_ONLY}: it needs 'web.listen' on a "
                          f"loopback address (not {web.listen}) and no 'gateway.lan_interfaces'; remove it, and the "
                          "admin web is served over HTTPS with the certificate `schoolgate init` makes")
    if urlsplit(web.public_url).scheme == "http" and not web.allow_http:
        raise ConfigError(f"{where}: 'web.public_url' is {web.public_url!r}: plain HTTP would send staff "
                          "passwords in clear; use https:// (`schoolgate init` makes the certificate), or set "
                          f"'web.allow_http' = true ({LOOPBACK_ONLY})")
    if bool(web.tls_cert) != bool(web.tls_key):
        given, missing = ("web.tls_cert", "web.tls_key") if web.tls_cert else ("web.tls_key", "web.tls_cert")
        raise ConfigError(f"{where}: '{given}' is set but '{missing}' is not: set both (PEM files) or neither "
                          "(then `schoolgate init` makes a certificate signed by the school's CA)")
    if gateway.lan_interfaces and not gateway.staff_networks:
        raise ConfigError(f"{where}: 'gateway.staff_networks' must be set when 'gateway.lan_interfaces' is: it "
                          "says who may reach the admin web, e.g. staff_networks = [\"10.0.50.0/24\"] (the staff "
                          "network); left empty, every pupil's device could reach the sign-in page")


def _section(where: str, section: str, cls: type, values: dict[str, Any]) -> Any:
    known = {f.name: f for f in fields(cls)}
    checked: dict[str, Any] = {}
    for key, value in values.items():
        if (section, key) in REMOVED:
            raise ConfigError(f"{where}: {REMOVED[section, key]}")
        if key not in known:
            raise ConfigError(f"{where}: unknown key '{section}.{key}'; known keys in [{section}]: "
                              f"{', '.join(known)}")
        checked[key] = _check_type(where, section, key, value, known[key].default,
                                   ints=(section, key) in INT_LISTS)
        checked[key] = _check_value(where, section, key, checked[key])
    return cls(**checked)


def _check_type(where: str, section: str, key: str, value: Any, default: Any, ints: bool = False) -> Any:
    name = f"{section}.{key}"
    if ints:
        if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            raise ConfigError(f"{where}: '{name}' must be a list of whole numbers, not {value!r}")
        return tuple(value)
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: '{name}' must be true or false, not {value!r}")
        return value
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: '{name}' must be a whole number, not {value!r}")
        if value < 0:
            raise ConfigError(f"{where}: '{name}' must not be negative ({value})")
        return value
    if isinstance(default, tuple):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{where}: '{name}' must be a list of strings, not {value!r}")
        return tuple(value)
    if not isinstance(value, str):
        raise ConfigError(f"{where}: '{name}' must be a string, not {value!r}")
    return value


def _check_value(where: str, section: str, key: str, value: Any) -> Any:
    name = f"{section}.{key}"
    choices = CHOICES.get((section, key))
    if choices and value not in choices:
        raise ConfigError(f"{where}: '{name}' must be one of {', '.join(choices)}, not {value!r}")
    if name in ("network.block_page_ipv4", "network.block_page_ipv6"):
        version = 4 if key.endswith("ipv4") else 6
        try:
            address = ipaddress.ip_address(value)
        except ValueError:
            raise ConfigError(f"{where}: '{name}' is not an IP address: {value!r}") from None
        if address.version != version:
            raise ConfigError(f"{where}: '{name}' must be an IPv{version} address, not {value!r}")
    if name == "proxy.connect_ports":
        if not value:
            raise ConfigError(f"{where}: '{name}' must list at least one port (443 for HTTPS)")
        for port in value:
            if not 0 < port < 65536:
                raise ConfigError(f"{where}: '{name}' holds {port}, which is not a port from 1 to 65535")
    if name in ("network.client_networks", "gateway.staff_networks", "proxy.internal_destinations"):
        for item in value:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ConfigError(f"{where}: '{name}' holds {item!r}, which is not a network "
                                  "such as 10.0.0.0/8") from None
    if name in ("dns.listen", "dns.upstreams", "proxy.listen", "web.listen", "gateway.dns_bypass_listen",
                "gateway.dot_catch_listen", "gateway.port_catch_listen"):
        for item in (value,) if isinstance(value, str) else value:
            try:
                parse_hostport(item, default_port=53 if key == "upstreams" else None)
            except ValueError as exc:
                raise ConfigError(f"{where}: '{name}' holds {item!r}: {exc}") from None
    if name == "gateway.allowed_egress":
        for item in value:
            try:
                parse_egress(item)
            except ValueError as exc:
                raise ConfigError(f"{where}: '{name}' holds {item!r}: {exc}") from None
    if name == "web.public_url":
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"{where}: '{name}' must be an http:// or https:// URL, not {value!r}")
        # In one form ("HTTPS://x" is https://x): everything after reads the scheme from the text, and the session
        # cookie is Secure only when the text starts "https://".
        return urlunsplit(parts)
    if name == "database.url" and "://" not in value:
        raise ConfigError(f"{where}: '{name}' must be a database URL such as sqlite:///var/schoolgate.db, "
                          f"not {value!r}")
    if name == "web.session_idle_minutes" and not 1 <= value <= 24 * 60:
        raise ConfigError(f"{where}: '{name}' must be from 1 to 1440 minutes")
    if name == "site.name" and not SITE_NAME_PATTERN.fullmatch(value):
        raise ConfigError(f"{where}: '{name}' must be a short lower-case name of letters, digits and hyphens "
                          f"(such as \"st-marys\"), not {value!r}")
    if name == "smtp.port" and not 0 < value < 65536:
        raise ConfigError(f"{where}: '{name}' must be a port from 1 to 65535, not {value}")
    if name == "smtp.to" and any("@" not in item for item in value):
        raise ConfigError(f"{where}: '{name}' must hold email addresses, not {list(value)!r}")
    if name == "safeguarding.chair_of_governors_email" and value and "@" not in value:
        raise ConfigError(f"{where}: '{name}' must be an email address, not {value!r}")
    if name == "dns.max_cache_ttl" and value < 1:
        raise ConfigError(f"{where}: '{name}' must be at least 1 second (3600, an hour, is the default), "
                          f"not {value}")
    if name in ("retention.access_log_days", "retention.ban_days", "retention.audit_days") and value < 1:
        raise ConfigError(f"{where}: '{name}' must be at least 1 day")
    if name in ("bans.threshold", "bans.window_minutes") and value < 1:
        raise ConfigError(f"{where}: '{name}' must be at least 1")
    if name == "bans.allowlist":
        for item in value:
            try:
                normalize_host(item)
            except InvalidHost as exc:
                raise ConfigError(f"{where}: '{name}' holds {item!r}: {exc}") from None
    return value


def check_listeners(config: Config, proxy_workers: int = 1) -> None:
    """Raise ConfigError, naming the key, when two listeners that traffic is told apart by share a port.

    The DNS bypass listener must differ from `[dns] listen`, or DNS sent to other resolvers could not be
    told apart; the DoT and port catchers must each have a port of their own, because the gateway's ruleset
    redirects to them by port alone. `proxy_workers` counts the proxy's consecutive worker ports."""
    gateway = config.gateway
    try:
        listen = [parse_hostport(item) for item in config.dns.listen]
        bypass = parse_hostport(gateway.dns_bypass_listen)[1]
        dot = parse_hostport(gateway.dot_catch_listen)[1]
        catch = parse_hostport(gateway.port_catch_listen)[1]
        proxy = parse_hostport(config.proxy.listen)[1]
        web = parse_hostport(config.web.listen)[1]
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    clash = [f"{h}:{p}" if ":" not in h else f"[{h}]:{p}" for h, p in listen if p == bypass]
    if clash:
        raise ConfigError(f"'gateway.dns_bypass_listen' ({gateway.dns_bypass_listen}) must use another port than "
                          f"'dns.listen' ({', '.join(clash)}), or DNS to other resolvers could not be told apart")
    others = [*((f"dns.listen ({item})", port) for item, (_, port) in zip(config.dns.listen, listen, strict=True)),
              (f"gateway.dns_bypass_listen ({gateway.dns_bypass_listen})", bypass),
              *((f"proxy.listen ({config.proxy.listen}{f', worker {i}' if i else ''})", proxy + i)
                for i in range(proxy_workers)),
              (f"web.listen ({config.web.listen})", web)]
    clash = [name for name, other in others if other == dot]
    if clash:
        raise ConfigError(f"'gateway.dot_catch_listen' ({gateway.dot_catch_listen}) must use another port than "
                          f"{', '.join(clash)}: DNS over TLS/QUIC is redirected to it by port")
    clash = [name for name, other in [*others, (f"gateway.dot_catch_listen ({gateway.dot_catch_listen})", dot)]
             if other == catch]
    if clash:
        raise ConfigError(f"'gateway.port_catch_listen' ({gateway.port_catch_listen}) must use another port than "
                          f"{', '.join(clash)}: every blocked port is redirected to it by port")


EGRESS_PROTOCOLS = ("tcp", "udp")


def parse_egress(text: str) -> tuple[str, int, int]:
    """Parse 'tcp/993' or 'udp/5000-5010' into (protocol, first port, last port); raise ValueError."""
    proto, slash, ports = text.strip().lower().partition("/")
    if not slash or proto not in EGRESS_PROTOCOLS:
        raise ValueError('expected tcp/PORT or udp/PORT (or a range, tcp/5000-5010), e.g. "udp/123"')
    first, dash, last = ports.partition("-")
    if not first.isdigit() or (dash and not last.isdigit()):
        raise ValueError(f"{ports!r} is not a port from 1 to 65535 (or a range such as 5000-5010)")
    low, high = int(first), int(last) if dash else int(first)
    if not 0 < low <= high < 65536:
        raise ValueError(f"{ports!r} is not a port from 1 to 65535 (or a range, low-high)")
    return proto, low, high


def parse_hostport(text: str, default_port: int | None = None) -> tuple[str, int]:
    """Parse 'host:port', '[v6]:port' or (with a default port) a bare address; raise ValueError."""
    host, port_text = text, ""
    if text.startswith("["):
        end = text.find("]")
        if end == -1:
            raise ValueError("unclosed '[' in address")
        host, rest = text[1:end], text[end + 1 :]
        if rest and not rest.startswith(":"):
            raise ValueError("expected ':port' after ']'")
        port_text = rest[1:]
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    elif text.count(":") > 1:
        host = text  # a bare IPv6 address
    if not port_text:
        if default_port is None:
            raise ValueError("expected ADDRESS:PORT, e.g. 127.0.0.1:5353")
        port = default_port
    else:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ValueError(f"port {port_text!r} is not a number from 1 to 65535")
        port = int(port_text)
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"{host!r} is not an IP address") from None
    return host, port
