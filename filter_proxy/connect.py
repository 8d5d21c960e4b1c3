"""Regular mode: decide on the CONNECT target before any tunnel exists.

A blocked host gets a 403 with a short body instead of "200 Connection established": no tunnel, and
(with `connection_strategy=lazy`) nothing is sent upstream. With `intercept_tls` on, the CONNECT is
answered but the connection is marked refused, so the TLS inside is intercepted and the request hook
serves the block page over HTTPS; the gate keeps it from ever reaching the server.
"""

from __future__ import annotations

import logging

from mitmproxy import http

from filter_proxy import blockpage, signals
from filter_proxy.enforcer import Enforcer
from filter_proxy.notes import Notes
from filter_proxy.settings import Settings
from rules.decision import FAIL_CLOSED

log = logging.getLogger("schoolgate.proxy")


class Connect:
    """The `http_connect` hook."""

    def __init__(self, enforcer: Enforcer, notes: Notes, settings: Settings) -> None:
        self.enforcer = enforcer
        self.notes = notes
        self.settings = settings

    def http_connect(self, flow: http.HTTPFlow) -> None:
        try:
            self._decide(flow)
        except Exception:
            log.exception("ALERT: CONNECT hook failed for %r; refusing (fail closed)", flow.request.host)
            self.notes.get(flow.client_conn.id).refused = "error in the CONNECT hook"
            flow.response = blockpage.connect_refusal(FAIL_CLOSED)

    def _decide(self, flow: http.HTTPFlow) -> None:
        raw_host = flow.request.host
        verdict = self.enforcer.decide(flow.client_conn.peername[0], raw_host, kind="CONNECT",
                                       signal=signals.host_signal(raw_host))
        flow.metadata["schoolgate"] = verdict.decision.as_dict()
        note = self.notes.get(flow.client_conn.id)
        note.connect_host = verdict.host
        note.connect_verdict = verdict
        if not verdict.blocked:
            note.approved = True
            return
        note.refused = f"CONNECT to {verdict.host} blocked"
        if not self.settings.intercept_tls:
            flow.response = blockpage.connect_refusal(verdict.decision)
