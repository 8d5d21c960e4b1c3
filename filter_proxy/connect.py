"""Regular mode: decide on the CONNECT target before any tunnel exists.

A blocked host gets a 403 with a short body instead of "200 Connection established": no tunnel, and
(with `connection_strategy=lazy`) nothing is sent upstream. The same 403 answers a CONNECT to a port
outside `[proxy] connect_ports` (a tunnel to 22 would carry SSH past the filter) and one to an internal
destination (`filter_proxy.destinations`): those never get a tunnel, whatever `intercept_tls` says.
For a host the policy blocks with `intercept_tls` on, the CONNECT is answered but the connection is
marked refused, so the TLS inside is intercepted and the request hook serves the block page over
HTTPS; the gate keeps it from ever reaching the server.
"""

from __future__ import annotations

import logging

from mitmproxy import http

from filter_proxy import blockpage, signals
from filter_proxy.destinations import Destinations, internal_decision
from filter_proxy.enforcer import Enforcer, Verdict
from filter_proxy.notes import Notes
from filter_proxy.settings import Settings
from rules.policy.decision import FAIL_CLOSED, Action, Decision, Reason

log = logging.getLogger("schoolgate.proxy")


class Connect:
    """The `http_connect` hook."""

    def __init__(self, enforcer: Enforcer, notes: Notes, settings: Settings, destinations: Destinations) -> None:
        self.enforcer = enforcer
        self.notes = notes
        self.settings = settings
        self.destinations = destinations

    async def http_connect(self, flow: http.HTTPFlow) -> None:
        try:
            await self._decide(flow)
        except Exception:
            log.exception("ALERT: CONNECT hook failed for %r; refusing (fail closed)", flow.request.host)
            self.notes.get(flow.client_conn.id).refused = "error in the CONNECT hook"
            flow.response = blockpage.connect_refusal(FAIL_CLOSED)

    async def _decide(self, flow: http.HTTPFlow) -> None:
        raw_host, port = flow.request.host, flow.request.port
        ip = flow.client_conn.peername[0]
        signal = signals.host_signal(raw_host)
        note = self.notes.get(flow.client_conn.id)
        if port not in self.settings.connect_ports:
            decision = Decision(Action.BLOCK, Reason.PORT, rule=f"port {port} is not in [proxy] connect_ports")
            self._refuse(flow, self.enforcer.refuse(ip, raw_host, decision, kind="CONNECT", signal=signal))
            return
        verdict = self.enforcer.decide(ip, raw_host, kind="CONNECT", signal=signal, log_event=False)
        if not verdict.blocked:
            vetted = await self.destinations.vet(raw_host, port)
            if vetted.refused is not None:
                verdict = Verdict(internal_decision(vetted.refused), verdict.client, verdict.host)
                self.enforcer.note(verdict, ip, kind="CONNECT", signal=signal)
                self._refuse(flow, verdict)
                return
        self.enforcer.note(verdict, ip, kind="CONNECT", signal=signal)
        flow.metadata["schoolgate"] = verdict.decision.as_dict()
        note.connect_verdict = verdict
        if not verdict.blocked:
            note.approved = True
            return
        note.refused = f"CONNECT to {verdict.host} blocked"
        if not self.settings.intercept_tls:
            flow.response = blockpage.connect_refusal(verdict.decision)

    def _refuse(self, flow: http.HTTPFlow, verdict: Verdict) -> None:
        """No tunnel at all: a 403 now, and the gate refuses any server connection from this client."""
        flow.metadata["schoolgate"] = verdict.decision.as_dict()
        self.notes.get(flow.client_conn.id).refused = f"CONNECT to {verdict.host}: {verdict.decision.rule}"
        flow.response = blockpage.connect_refusal(verdict.decision)
