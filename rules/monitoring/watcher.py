"""The watcher: reads new access events, feeds the detector, and writes a ban or an alert on a verdict.

It runs in one process (the scheduler's), so there is one window per device whatever DNS and the proxy
saw, and a ban is written once. A ban is policy data: writing it bumps the policy version, and DNS and
the proxy enforce it within their next poll (about a second). No second path.

One watcher serves every school of a trust: each event carries its school (`site_id`), read against that
school's snapshot (its groups, devices, bindings); a device without a registration is keyed by school and
address, since two schools' devices may share an address; a ban and its unknown device belong to the event's
school.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, or_, select, true
from sqlalchemy.orm import Session

from rules.monitoring.detector import CIRCUMVENTION_PORTS, DEFAULT_THRESHOLD, Detector, Signal, Verdict
from rules.monitoring.signals import SignalKind
from rules.monitoring.states import CURRENT_BAN_STATES, BanState, CircumventionMode
from rules.policy.compile import Compiler, read_version
from rules.policy.snapshot import PolicySnapshot, person_key
from rules.store.audit import audit
from rules.store.db import Database
from rules.store.models import AccessEvent, Ban, Device, DeviceAddress, Group

log = logging.getLogger(__name__)

CIRCUMVENTION_CATEGORY = "circumvention"
BATCH = 5000
SETTLE_SECONDS = 10.0
ACTOR = "detector"


@dataclass
class Outcome:
    """What the watcher did with one verdict."""

    action: str  # "ban" | "alert" | "already_banned" | "off"
    device_id: int | None
    ban_id: int | None
    verdict: Verdict


NOT_PROVEN = ("the evidence is only UDP traffic from an address that is not bound to the device's MAC address, "
              "which anyone on the network could have sent with a borrowed address; so no ban. Check the "
              "device, and register it with its MAC address so that its traffic counts as its own")


def proof_of(event: AccessEvent, snapshot: PolicySnapshot) -> str | None:
    """How we know only the device itself sent this: "connection" (a completed TCP connection: DNS over TCP,
    the proxy, the gateway's catchers) or "mac" (its address is bound to its MAC, a DHCP lease or a
    registration with the MAC, so the gateway drops that address from any other MAC); None when it proves
    nothing. The binding is read from the policy in force as the watcher reads the event, a second or so
    after it happened. Events written before the transport was recorded are taken as connections only when
    they came through the proxy."""
    if event.transport == "tcp" or (event.transport is None and event.source == "proxy"):
        return "connection"
    return "mac" if snapshot.is_bound(event.client_ip, event.mac) else None


def signal_kind(event: AccessEvent) -> str | None:
    """The detector's kind for an event: its signal (a blocked port split into known VPN/proxy ports and
    others), or `SignalKind.CIRCUMVENTION_SITE` when it reached for a name in the circumvention category.
    A stored signal this version does not know is passed on as it is (it weighs nothing)."""
    if event.signal == SignalKind.BLOCKED_PORT and (event.transport, event.port) in CIRCUMVENTION_PORTS:
        return SignalKind.VPN_PORT
    return event.signal or (SignalKind.CIRCUMVENTION_SITE if event.category == CIRCUMVENTION_CATEGORY else None)


def signal_from_event(event: AccessEvent, snapshot: PolicySnapshot) -> Signal | None:
    """An access event is a signal when it carries one, or when it reached for a circumvention name."""
    kind = signal_kind(event)
    if kind is None:
        return None
    key = f"device:{event.device_id}" if event.device_id is not None else f"ip:{event.site_id}:{event.client_ip}"
    host = event.host
    if event.port is not None and event.signal == SignalKind.BLOCKED_PORT:
        # what was tried, for the evidence and for "the same thing again counts once": address, port, service
        service = CIRCUMVENTION_PORTS.get((event.transport or "", event.port))
        where = f"{host} " if host else ""
        host = f"{where}{(event.transport or '').upper()} port {event.port}" + (f" ({service})" if service else "")
    return Signal(ts=event.ts.timestamp(), device_key=key, kind=kind, host=host, client_ip=event.client_ip,
                  source=event.source, event_id=event.id, proof=proof_of(event, snapshot))


class Watcher:
    """Polls the access log for signals and acts on verdicts, per the device's group setting."""

    def __init__(self, db: Database, detector: Detector | None = None,
                 thresholds: dict[str, int] | None = None,
                 notify: Callable[[Outcome], None] | None = None,
                 default_threshold: int = DEFAULT_THRESHOLD) -> None:
        self.db = db
        self.detector = detector or Detector()
        self.thresholds = thresholds or {}
        self.default_threshold = default_threshold
        self.notify = notify
        self._compilers: dict[int, Compiler] = {}  # one per school, each keeping its own domain table
        self._snapshots: dict[int, PolicySnapshot] = {}
        self.last_id: int | None = None  # every event at or below it is read (or was settled when skipped)
        self._read: set[int] = set()  # signal events above last_id already read

    def start_position(self) -> None:
        """Begin with the events of the current window, so a restart does not forget recent signals."""
        horizon = time.time() - self.detector.window_seconds
        with self.db.session(read_only=True) as session:
            first = session.scalar(select(func.min(AccessEvent.id)).where(
                AccessEvent.ts >= datetime.fromtimestamp(horizon, UTC)))
            last = session.scalar(select(func.max(AccessEvent.id)))
        self.last_id = (first - 1) if first is not None else (last or 0)

    def poll_once(self) -> list[Outcome]:
        """Read the new signal-bearing events and act on every verdict they produce."""
        if self.last_id is None:
            self.start_position()
        outcomes: list[Outcome] = []
        with self.db.session(read_only=True) as session:
            events = list(session.scalars(
                select(AccessEvent)
                .where(AccessEvent.id > self.last_id,
                       or_(AccessEvent.signal.is_not(None), AccessEvent.category == CIRCUMVENTION_CATEGORY),
                       AccessEvent.id.not_in(sorted(self._read)) if self._read else true())
                .order_by(AccessEvent.id).limit(BATCH)))
            # Ordinary events need no reading: skip past them, but only past rows old enough that no writer
            # can still be committing a lower id (PostgreSQL sequences may commit out of order).
            settled = session.scalar(select(func.max(AccessEvent.id)).where(
                AccessEvent.ts < datetime.fromtimestamp(time.time() - SETTLE_SECONDS, UTC))) or 0
        version = read_version(self.db) if events else 0
        # Several writers (a trust's gateways, a school's DNS and proxy) commit ids out of order: a batch with
        # lower ids may commit after one with higher ids was read. So the read position moves only to settled
        # ids; the signal events read above it are remembered, and the next poll reads those it has not.
        for event in events:
            self._read.add(event.id)
            snapshot = self._snapshot_of(event.site_id, version)
            signal = signal_from_event(event, snapshot)
            if signal is None:
                continue
            group = self._group_of(snapshot, event)
            mode = snapshot.groups[group].circumvention_mode if group in snapshot.groups else CircumventionMode.BAN
            if mode == CircumventionMode.OFF:
                continue
            verdict = self.detector.observe(signal, self.thresholds.get(group, self.default_threshold))
            if verdict is not None:
                outcome = self.act(verdict, event, mode)
                outcomes.append(outcome)
                if self.notify is not None:
                    try:
                        self.notify(outcome)
                    except Exception:
                        log.exception("could not send the notification for %s", verdict.device_key)
        if len(events) < BATCH and settled > (self.last_id or 0):
            self.last_id = settled
            self._read = {i for i in self._read if i > settled}
        elif len(events) == BATCH:  # a burst: go on past it, as before (a full batch is read again otherwise)
            self.last_id = max(self.last_id or 0, events[-1].id)
            self._read = {i for i in self._read if i > self.last_id}
        return outcomes

    def _snapshot_of(self, site_id: int, version: int) -> PolicySnapshot:
        """The policy in force for the event's school (compiled again when the trust's version moved)."""
        snapshot = self._snapshots.get(site_id)
        if snapshot is None or snapshot.version != version:
            compiler = self._compilers.setdefault(site_id, Compiler(self.db, site_id=site_id))
            snapshot = self._snapshots[site_id] = compiler.compile()
        return snapshot

    @staticmethod
    def _group_of(snapshot: PolicySnapshot, event: AccessEvent) -> str:
        """The group whose setting applies: the device's, found by the address it used."""
        return snapshot.identify(event.client_ip, event.mac).group

    def act(self, verdict: Verdict, event: AccessEvent, mode: str) -> Outcome:
        """Write the ban (or the alert) with its evidence, in one transaction with its audit entry."""
        evidence = [s.as_evidence() for s in verdict.evidence]
        with self.db.session() as session:
            device = _device_for(session, event)
            if mode != CircumventionMode.BAN or not verdict.proven:
                after: dict[str, object] = {"summary": verdict.summary(), "evidence": evidence}
                if mode == CircumventionMode.BAN:
                    after["why_no_ban"] = NOT_PROVEN
                    log.warning("not banning %s (device #%d): %s; %s", device.name, device.id, verdict.summary(),
                                NOT_PROVEN)
                audit(session, ACTOR, "circumvention.alert", f"device #{device.id}", after=after,
                      site_id=device.site_id)
                return Outcome("alert", device.id, None, verdict)
            existing = _active_ban(session, device)
            if existing is not None:
                return Outcome("already_banned", device.id, existing.id, verdict)
            ban = Ban(site_id=device.site_id, device_id=device.id, person=device.person, state=BanState.ACTIVE,
                      created_by=ACTOR,
                      reason=f"Trying to get round the filter: {verdict.summary()}",
                      evidence=json.dumps(evidence))
            session.add(ban)
            session.flush()
            # The evidence is the ban's, read through `bans.read_evidence` (audited) and deleted with it; a copy
            # here would outlive the ban by years and be read on the audit page with no record of who looked.
            audit(session, ACTOR, "ban.create", f"ban #{ban.id}",
                  after={"device": device.name, "person": device.person, "summary": verdict.summary(),
                         "evidence_items": len(evidence)}, site_id=device.site_id)
            log.warning("banned %s (device #%d): %s", device.name, device.id, verdict.summary())
            return Outcome("ban", device.id, ban.id, verdict)

    def run(self, stop: threading.Event, interval: float = 0.5) -> None:
        """Poll until `stop` is set; an error is logged and the next poll goes on."""
        while not stop.wait(interval):
            try:
                self.poll_once()
            except Exception:
                log.exception("circumvention watcher poll failed")


def _device_for(session: Session, event: AccessEvent) -> Device:
    """The event's device; an unregistered address becomes an 'unknown' device of the event's school, so a ban
    has a subject (an address names a device only within its school)."""
    site_id = event.site_id
    if event.device_id is not None:
        device = session.get(Device, event.device_id)
        if device is not None and device.site_id == site_id:
            return device
    held = session.scalar(select(DeviceAddress).where(DeviceAddress.site_id == site_id,
                                                      DeviceAddress.ip == event.client_ip))
    if held is not None:
        return held.device
    default = session.scalar(select(Group).where(Group.site_id == site_id, Group.is_default.is_(True)))
    device = Device(site_id=site_id, name=f"Unknown device {event.client_ip}", status="unknown",
                    group_id=default.id if default else None, last_ip=event.client_ip)
    session.add(device)
    session.flush()
    session.add(DeviceAddress(site_id=site_id, device_id=device.id, ip=event.client_ip, source="detector"))
    audit(session, ACTOR, "device.register", f"device #{device.id}",
          after={"name": device.name, "ip": event.client_ip, "status": "unknown"}, site_id=site_id)
    return device


def _active_ban(session: Session, device: Device) -> Ban | None:
    bans = session.scalars(select(Ban).where(Ban.state.in_(CURRENT_BAN_STATES), Ban.site_id == device.site_id))
    key = person_key(device.person)
    for ban in bans:
        if ban.device_id == device.id or (key is not None and person_key(ban.person) == key):
            return ban
    return None
