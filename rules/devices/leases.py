"""Who has which address: DHCP lease files and the kernel's neighbour table, parsed into IP -> MAC.

These files come from other programs (dnsmasq, ISC Kea, iproute2) and change under our feet, so a line
that cannot be read is counted with an example and skipped; nothing here raises on bad content.
The parsers are pure; `rules.devices.sync` writes what they find into the device registry.
"""

from __future__ import annotations

import csv
import io
import ipaddress
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime

from rules.devices.registry import DeviceError, normalize_mac

EXAMPLES = 3


@dataclass(frozen=True)
class Sighting:
    """One address seen in use by one MAC, and how we know (dhcp or neigh)."""

    ip: str
    mac: str
    source: str
    hostname: str | None = None
    interface: str | None = None


@dataclass
class LeaseReport:
    """What a parse found, and how many lines it could not use."""

    sightings: list[Sighting] = field(default_factory=list)
    malformed: int = 0
    ignored: int = 0  # readable but not wanted: expired, IPv6 DUIDs, incomplete neighbours
    examples: list[str] = field(default_factory=list)

    def bad(self, line_no: int, line: str, why: str) -> None:
        self.malformed += 1
        if len(self.examples) < EXAMPLES:
            self.examples.append(f"line {line_no}: {why}: {line[:120]}")

    def extend(self, other: LeaseReport) -> None:
        self.sightings.extend(other.sightings)
        self.malformed += other.malformed
        self.ignored += other.ignored
        self.examples.extend(other.examples[: max(0, EXAMPLES - len(self.examples))])


def _mac(raw: str) -> str | None:
    try:
        mac = normalize_mac(raw)
    except DeviceError:
        return None
    if mac == "00:00:00:00:00:00" or int(mac[:2], 16) & 1:  # unset or multicast: not a device
        return None
    return mac


def _ip(raw: str) -> str | None:
    try:
        return str(ipaddress.ip_address(raw.strip()))
    except ValueError:
        return None


def _hostname(raw: str | None) -> str | None:
    name = (raw or "").strip().rstrip(".")
    return name[:128] if name and name != "*" else None


def parse_dnsmasq(text: str, now: datetime | None = None) -> LeaseReport:
    """dnsmasq's lease file: 'EXPIRY MAC IP HOSTNAME CLIENTID' a line (EXPIRY 0: never expires).

    IPv6 leases (after a 'duid' line) carry an IAID instead of a MAC; they are ignored, not malformed.
    """
    report = LeaseReport()
    moment = (now or datetime.now(UTC)).timestamp()
    for line_no, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        fields = line.split()
        if fields[0] == "duid":
            report.ignored += 1
            continue
        if len(fields) < 4 or not fields[0].isdigit():
            report.bad(line_no, line, "expected 'expiry mac ip hostname clientid'")
            continue
        ip = _ip(fields[2])
        mac = _mac(fields[1])
        if ip is None:
            report.bad(line_no, line, "not an IP address")
            continue
        if mac is None:
            if ipaddress.ip_address(ip).version == 6:
                report.ignored += 1
            else:
                report.bad(line_no, line, "not a MAC address")
            continue
        expiry = int(fields[0])
        if expiry and expiry < moment:
            report.ignored += 1
            continue
        report.sightings.append(Sighting(ip, mac, "dhcp", _hostname(fields[3])))
    return report


KEA_COLUMNS = ("address", "hwaddr", "expire", "hostname", "state")


def parse_kea_csv(text: str, now: datetime | None = None) -> LeaseReport:
    """ISC Kea's lease4 CSV (memfile): a header row, then address,hwaddr,client_id,valid_lifetime,expire,...

    Only leases in state 0 (default: in use) that have not expired count.
    """
    report = LeaseReport()
    moment = (now or datetime.now(UTC)).timestamp()
    reader = csv.reader(io.StringIO(text))
    header: list[str] | None = None
    for row in reader:
        line_no = reader.line_num
        if not row or not any(cell.strip() for cell in row):
            continue
        if header is None:
            header = [cell.strip() for cell in row]
            missing = [c for c in KEA_COLUMNS if c not in header]
            if missing:
                report.bad(line_no, ",".join(row), f"not a Kea lease4 header (missing {', '.join(missing)})")
                return report
            continue
        if len(row) < len(header):
            report.bad(line_no, ",".join(row), f"{len(row)} columns, the header has {len(header)}")
            continue
        cells = dict(zip(header, row, strict=False))
        ip, mac = _ip(cells["address"]), _mac(cells["hwaddr"])
        if ip is None or mac is None or not cells["expire"].strip().isdigit():
            report.bad(line_no, ",".join(row), "bad address, hwaddr or expire")
            continue
        if cells["state"].strip() not in ("", "0") or int(cells["expire"]) < moment:
            report.ignored += 1
            continue
        report.sightings.append(Sighting(ip, mac, "dhcp", _hostname(cells["hostname"])))
    return report


UNUSABLE_NEIGH_STATES = {"FAILED", "INCOMPLETE", "NOARP"}


def parse_neigh_json(text: str) -> LeaseReport:
    """`ip -j neigh show`: a JSON list of {"dst", "dev", "lladdr", "state": [...]}."""
    report = LeaseReport()
    try:
        entries = json.loads(text or "[]")
    except json.JSONDecodeError as exc:
        report.bad(1, text, f"not JSON ({exc.msg})")
        return report
    if not isinstance(entries, list):
        report.bad(1, text, "not a JSON list")
        return report
    for index, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict) or "dst" not in entry:
            report.bad(index, json.dumps(entry), "not a neighbour entry")
            continue
        states = set(entry.get("state") or [])
        if "lladdr" not in entry or states & UNUSABLE_NEIGH_STATES:
            report.ignored += 1
            continue
        ip, mac = _ip(str(entry["dst"])), _mac(str(entry["lladdr"]))
        if ip is None or mac is None:
            report.bad(index, json.dumps(entry), "bad dst or lladdr")
            continue
        if ipaddress.ip_address(ip).is_link_local:
            report.ignored += 1  # fe80:: addresses identify nothing the filter sees
            continue
        report.sightings.append(Sighting(ip, mac, "neigh", interface=entry.get("dev")))
    return report


def parse_proc_arp(text: str) -> LeaseReport:
    """/proc/net/arp, the fallback when `ip` is missing: 'IP HWtype Flags HWaddress Mask Device'."""
    report = LeaseReport()
    for line_no, raw in enumerate(text.splitlines(), start=1):
        fields = raw.split()
        if not fields or fields[0] == "IP":
            continue
        if len(fields) < 6:
            report.bad(line_no, raw, "expected six columns")
            continue
        ip, mac = _ip(fields[0]), _mac(fields[3])
        if ip is None:
            report.bad(line_no, raw, "not an IP address")
            continue
        if mac is None or fields[2] == "0x0":  # incomplete entry
            report.ignored += 1
            continue
        report.sightings.append(Sighting(ip, mac, "neigh", interface=fields[5]))
    return report


def parse_lease_file(text: str, now: datetime | None = None) -> LeaseReport:
    """A lease file of either kind: Kea's starts with its CSV header, dnsmasq's with a number."""
    first = next((line for line in text.splitlines() if line.strip()), "")
    if first.startswith("address,"):
        return parse_kea_csv(text, now)
    return parse_dnsmasq(text, now)
