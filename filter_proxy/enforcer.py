"""`Enforcer`: identify -> `rules.policy.decide()` -> record, shared by every decision hook.

It holds no policy of its own. It reads `store.current()` once per call, so a new policy version
is in force for the next connection without a restart. Any exception on the way (identifying the
device, normalising the host, deciding) ends in `FAIL_CLOSED` and a logged alert: mitmproxy would
log an exception escaping a hook and let the flow go on, which would be a pass.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from rules.monitoring.signals import SignalKind
from rules.policy.current import SnapshotStore
from rules.policy.decide import decide
from rules.policy.decision import FAIL_CLOSED, Action, Client, Decision, Reason
from rules.policy.names import InvalidHost, ip_literal, normalize_host
from rules.policy.networks import plain_ip
from rules.store.event_writer import EventRecord, EventRow

log = logging.getLogger("schoolgate.proxy")
SOURCE = "proxy"


@dataclass(frozen=True, slots=True)
class Verdict:
    """A decision with the client and normal-form host it was made for (client None: identification failed)."""

    decision: Decision
    client: Client | None
    host: str

    @property
    def blocked(self) -> bool:
        return self.decision.blocked


def host_form(raw: str) -> str:
    """The host in the form the rules compare: an address in its canonical text (any numeric IPv4 form,
    `0x7f.1` too, is the dotted address it means; IPv6 without brackets), else `normalize_host`."""
    return ip_literal(raw) or normalize_host(raw)


class Enforcer:
    """Decides for one host (and URL) on behalf of a client address, and records the event."""

    def __init__(self, store: SnapshotStore, record: Callable[[EventRow], None]) -> None:
        self.store = store
        self.record = record

    def decide(self, ip: str, raw_host: str, url: str | None = None, *, kind: str | None = None,
               signal: SignalKind | None = None, search_term: str | None = None, log_event: bool = True) -> Verdict:
        """Decide for `raw_host` as asked by `ip`; never raises, blocks on any error."""
        ip = plain_ip(ip)  # ::ffff:10.0.0.7 (a proxy on [::]) is the device at 10.0.0.7
        client: Client | None = None
        host = raw_host
        try:
            snapshot = self.store.current()
            client = snapshot.identify(ip)
            host = host_form(raw_host)
            decision = decide(snapshot, client, host, url)
        except InvalidHost as exc:
            log.warning("blocking %r from %s: %s", raw_host, ip, exc)
            decision = FAIL_CLOSED
        except Exception:
            log.exception("ALERT: the proxy's decision failed for %r from %s; blocking (fail closed)", raw_host, ip)
            decision = FAIL_CLOSED
        verdict = Verdict(decision, client, host)
        if log_event:
            self.note(verdict, ip, url, kind=kind, signal=signal, search_term=search_term)
        return verdict

    @staticmethod
    def nameless(verdict: Verdict) -> Verdict:
        """The verdict for a transparent connection that names no site (`verdict` was decided on the address
        the device chose): only an exception for that address opens it. Anything else could be any site on
        that address, or a tunnel of the pupil's own: the filter would be checking nothing."""
        decision = verdict.decision
        if decision.blocked or decision.reason is Reason.EXCEPTION:
            return verdict
        rule = f"no site name, only the address {verdict.host}"
        return Verdict(Decision(Action.BLOCK, Reason.NAMELESS, rule=rule), verdict.client, verdict.host)

    def refuse(self, ip: str, raw_host: str, decision: Decision, url: str | None = None, *,
               kind: str | None = None, signal: SignalKind | None = None) -> Verdict:
        """Record a refusal that is not the policy's (an internal address, a port, a Host mismatch) for the
        identified client, and return it as a verdict; never raises."""
        ip = plain_ip(ip)
        client: Client | None = None
        host = raw_host
        try:
            client = self.store.current().identify(ip)
            host = host_form(raw_host)
        except Exception:
            log.warning("refusing %r from %s: cannot identify the client or read the host", raw_host, ip)
        verdict = Verdict(decision, client, host)
        self.note(verdict, ip, url, kind=kind, signal=signal)
        return verdict

    def note(self, verdict: Verdict, ip: str, url: str | None = None, *, kind: str | None = None,
             signal: SignalKind | None = None, search_term: str | None = None) -> None:
        """Record an access event for `verdict` (source proxy); a failure here is logged, never raised."""
        ip = plain_ip(ip)
        try:
            decision = verdict.decision
            client = verdict.client
            head = self.store.current().event_head(client) if client is not None else (ip, None, None, None)
            client_ip, device_id, device, mac = head
            self.record(EventRecord(
                ts=time.time(), client_ip=client_ip, device_id=device_id, device=device, mac=mac, source=SOURCE,
                qtype=kind, host=verdict.host, url=url, action=decision.action.value, category=decision.category,
                rule=decision.rule, reason=decision.reason.value, search_term=search_term, signal=signal,
                transport="tcp", port=None))
        except Exception:
            log.exception("ALERT: cannot record a proxy access event for %r", verdict.host)
