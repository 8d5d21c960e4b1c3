"""Keep the gateway's address-to-MAC sets current (bound_v4/v6, binding_v4/v6 in `table inet schoolgate`).

The ruleset's guard chain drops a packet whose source address is bound to one device's MAC but that comes
from another MAC: a pupil who gives a laptop a classmate's address must not act (or be banned) as the
classmate. An address is bound when the registry says so (a DeviceAddress of source "static" or "dhcp" on
a device with a MAC, exactly the snapshot's `bindings`), and while a DHCP lease says so.

The sets are the gateway's own school's (`site_id`): another school's registry binds addresses on another LAN.

The device sync (scheduler, every 30 s; `schoolgate devices sync`) calls `sync_bindings`. It reads what the
kernel holds and, only when that differs, flushes and refills the four sets in one `nft -f -` transaction:
the sets are never half-filled, and the ruleset (and its counters) is never reloaded for it. Without nft,
or before the ruleset is loaded (loopback development), it does nothing and says so at debug level.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import shutil
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from deploy.nftables import BINDING_SETS, TABLE
from rules.devices.leases import Sighting
from rules.policy.compile import BINDING_SOURCES
from rules.sites import DEFAULT_SITE_ID
from rules.store.db import Database
from rules.store.models import Device, DeviceAddress

log = logging.getLogger(__name__)
Sets = dict[str, set[str]]


@dataclass(frozen=True)
class BindingsResult:
    """What a sync did: "updated", "unchanged" or "skipped" (with why), and how many addresses are bound."""

    outcome: str
    bound: int = 0
    why: str = ""


def registry_bindings(session: Session, site_id: int = DEFAULT_SITE_ID) -> dict[str, str]:
    """Address -> MAC for every address the school's registry binds (as rules/policy/compile.py does for the
    snapshot)."""
    rows = session.execute(select(DeviceAddress.ip, Device.mac).join(Device, DeviceAddress.device_id == Device.id)
                           .where(DeviceAddress.source.in_(BINDING_SOURCES), Device.mac.is_not(None),
                                  DeviceAddress.site_id == site_id))
    return {ip: mac.lower() for ip, mac in rows if mac}


def wanted_sets(bindings: Mapping[str, str]) -> Sets:
    """The four sets' elements, as nft writes them (compressed IPv6, lower-case MAC)."""
    sets: Sets = {name: set() for name in BINDING_SETS}
    for raw_ip, mac in bindings.items():
        try:
            address = ipaddress.ip_address(raw_ip)
        except ValueError:
            log.warning("bindings: %r is not an address; left out", raw_ip)
            continue
        family = "v4" if address.version == 4 else "v6"
        sets[f"bound_{family}"].add(str(address))
        sets[f"binding_{family}"].add(f"{address} . {mac.lower()}")
    return sets


def kernel_sets(nft: Sequence[str]) -> Sets | None:
    """What the kernel's sets hold, or None when the table is not loaded (no ruleset: nothing to keep)."""
    result = subprocess.run([*nft, "-j", "list", "table", "inet", TABLE], capture_output=True, text=True,
                            timeout=30, check=False)
    if result.returncode != 0:
        if "No such file or directory" in result.stderr:
            return None
        raise OSError(f"nft list table inet {TABLE} failed: {result.stderr.strip()}")
    sets: Sets = {}
    for item in json.loads(result.stdout).get("nftables", []):
        found = item.get("set")
        if not found or found.get("name") not in BINDING_SETS:
            continue
        sets[found["name"]] = {_element(e) for e in found.get("elem", [])}
    missing = set(BINDING_SETS) - set(sets)
    if missing:  # a ruleset from before the sets existed: reload it (`schoolgate gateway nftables`)
        raise OSError(f"table inet {TABLE} has no set {', '.join(sorted(missing))}: load the current ruleset")
    return sets


def _element(raw: object) -> str:
    if isinstance(raw, dict) and "elem" in raw:  # an element with a timeout or comment
        raw = raw["elem"].get("val") if isinstance(raw["elem"], dict) else raw["elem"]
    if isinstance(raw, dict) and "concat" in raw:
        address, mac = raw["concat"]
        return f"{ipaddress.ip_address(address)} . {str(mac).lower()}"
    return str(ipaddress.ip_address(str(raw)))


def update_script(sets: Sets) -> str:
    """One nft transaction: flush the four sets and add every element (all or nothing)."""
    lines = [f"flush set inet {TABLE} {name}" for name in BINDING_SETS]
    for name in BINDING_SETS:
        if sets[name]:
            lines.append(f"add element inet {TABLE} {name} {{ {', '.join(sorted(sets[name]))} }}")
    return "\n".join(lines) + "\n"


def sync_bindings(bindings: Mapping[str, str], nft: Sequence[str] | None = None) -> BindingsResult:
    """Bring the kernel's sets in line with `bindings` (address -> MAC), when they differ."""
    command = list(nft) if nft is not None else ([found] if (found := shutil.which("nft")) else [])
    if not command:
        log.debug("bindings: nft is not installed; address-to-MAC sets not kept")
        return BindingsResult("skipped", why="nft is not installed")
    wanted = wanted_sets(bindings)
    bound = len(wanted["bound_v4"]) + len(wanted["bound_v6"])
    current = kernel_sets(command)
    if current is None:
        log.debug("bindings: table inet %s is not loaded; address-to-MAC sets not kept", TABLE)
        return BindingsResult("skipped", bound, f"table inet {TABLE} is not loaded")
    if current == wanted:
        return BindingsResult("unchanged", bound)
    result = subprocess.run([*command, "-f", "-"], input=update_script(wanted), capture_output=True, text=True,
                            timeout=30, check=False)
    if result.returncode != 0:
        raise OSError(f"nft could not refill the address-to-MAC sets: {result.stderr.strip()}")
    log.info("bindings: %d addresses bound to their MAC in table inet %s", bound, TABLE)
    return BindingsResult("updated", bound)


def current_bindings(db: Database, leases: Iterable[Sighting] = (), site_id: int = DEFAULT_SITE_ID) -> dict[str, str]:
    """The school's registry bindings, and every current DHCP lease (a lease wins: it is what the DHCP server
    says now, and the sync has just written it into the registry anyway)."""
    with db.session(read_only=True) as session:
        bindings = registry_bindings(session, site_id)
    for sighting in leases:
        if sighting.source == "dhcp":
            bindings[sighting.ip] = sighting.mac.lower()
    return bindings


def sync_gateway_bindings(lan_interfaces: Sequence[str], db: Database, leases: Iterable[Sighting] = (),
                          nft: Sequence[str] | None = None, site_id: int = DEFAULT_SITE_ID) -> BindingsResult:
    """What the device sync calls: only on a gateway (`[gateway] lan_interfaces` set); a failure is logged,
    never raised, so it cannot stop the registry's own sync."""
    if not lan_interfaces:
        log.debug("bindings: no [gateway] lan_interfaces (not a gateway); address-to-MAC sets not kept")
        return BindingsResult("skipped", why="no [gateway] lan_interfaces")
    try:
        return sync_bindings(current_bindings(db, leases, site_id), nft)
    except (OSError, subprocess.SubprocessError, ValueError) as exc:
        log.warning("bindings: address-to-MAC sets not updated: %s", exc)
        return BindingsResult("failed", why=str(exc))
