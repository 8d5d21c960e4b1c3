"""Hardened systemd units for the four services (`schoolgate gateway systemd DIR`).

Each service runs as the unprivileged `schoolgate` user with only the capabilities it needs:

- dns: CAP_NET_BIND_SERVICE, to listen on port 53. Its catchers need nothing more: SO_ORIGINAL_DST and
  SO_RCVMARK (reading a datagram's mark, which the ruleset set) are open to any process.
- proxy: none. In transparent mode mitmproxy reads the original destination with
  getsockopt(SO_ORIGINAL_DST), which needs no capability; the nftables `redirect` does the rest.
  (CAP_NET_ADMIN would only be needed for IP_TRANSPARENT / spoofing the client's source address,
  which schoolgate does not use.)
- web: none.
- scheduler: none, except on a gateway (`[gateway] lan_interfaces` set) CAP_NET_ADMIN: the device sync
  refills the ruleset's address-to-MAC sets with `nft` (netlink to nftables needs it, to read too). It
  also reads the kernel's neighbour table (`ip -j neigh`), so it may open netlink sockets.

A service whose configured port is below 1024 gets CAP_NET_BIND_SERVICE too.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from string import Template

from deploy.config import Config, parse_hostport

TEMPLATE = Path(__file__).parent / "templates" / "schoolgate-service.in"
EXECUTABLE = "/opt/schoolgate/venv/bin/schoolgate"
CONFIG_PATH = "/etc/schoolgate/schoolgate.toml"
STATE_DIR = "/var/lib/schoolgate"
USER = "schoolgate"


@dataclass(frozen=True)
class ServiceUnit:
    """What differs between the four units."""

    name: str
    description: str
    families: str
    ports: tuple[int, ...]


def services(config: Config) -> list[ServiceUnit]:
    inet = "AF_UNIX AF_INET AF_INET6"
    dns_ports = tuple(parse_hostport(a)[1] for a in (*config.dns.listen, config.gateway.dns_bypass_listen,
                                                             config.gateway.dot_catch_listen,
                                                             config.gateway.port_catch_listen))
    return [
        ServiceUnit("dns", "schoolgate DNS sinkhole", inet, dns_ports),
        ServiceUnit("proxy", "schoolgate filtering proxy", inet, (parse_hostport(config.proxy.listen)[1],)),
        ServiceUnit("web", "schoolgate admin web", inet, (parse_hostport(config.web.listen)[1],)),
        ServiceUnit("scheduler", "schoolgate scheduler (expiry, retention, lists, devices, reports, self-test)",
                    inet + " AF_NETLINK", ()),
    ]


def render_units(config: Config, executable: str = EXECUTABLE, config_path: str = CONFIG_PATH) -> dict[str, str]:
    """File name -> unit text, for each service."""
    template = Template(TEMPLATE.read_text(encoding="utf-8"))
    units = {}
    for unit in services(config):
        needs_bind = unit.name == "dns" or any(port < 1024 for port in unit.ports)
        needs_admin = unit.name == "scheduler" and bool(config.gateway.lan_interfaces)
        caps = " ".join(cap for cap, needed in (("CAP_NET_BIND_SERVICE", needs_bind),
                                                ("CAP_NET_ADMIN", needs_admin)) if needed)
        units[f"schoolgate-{unit.name}.service"] = template.substitute(
            description=unit.description, name=unit.name, executable=executable, config=config_path,
            user=USER, state_dir=STATE_DIR, families=unit.families, capabilities=caps,
        )
    return units


def write_units(directory: Path, units: dict[str, str]) -> list[Path]:
    """Write the units; a file already holding the same text is left alone (so reruns change nothing)."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in units.items():
        path = directory / name
        if path.exists() and path.read_text(encoding="utf-8") == text:
            continue
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
