"""HTTP requests (plain, or HTTPS intercepted): decide on Host and URL, answer blocked ones with a page.

The block page is served from the proxy itself (with `connection_strategy=lazy` no server connection
exists yet). Search terms and circumvention signals are recorded on the request's access event.
"""

from __future__ import annotations

import logging

from mitmproxy import http

from filter_proxy import blockpage, searchterms, signals
from filter_proxy.enforcer import Enforcer
from filter_proxy.notes import Notes
from filter_proxy.settings import Settings

log = logging.getLogger("schoolgate.proxy")
FALLBACK = http.Response.make(403, b"Blocked by the school's web filter (error).\n",
                              {"content-type": "text/plain; charset=utf-8", "x-schoolgate": "blocked"})


class Request:
    """The `request` hook."""

    def __init__(self, enforcer: Enforcer, notes: Notes, settings: Settings) -> None:
        self.enforcer = enforcer
        self.notes = notes
        self.settings = settings

    def request(self, flow: http.HTTPFlow) -> None:
        try:
            self._decide(flow)
        except Exception:
            log.exception("ALERT: request hook failed for %r; blocking (fail closed)", flow.request.pretty_host)
            self.notes.get(flow.client_conn.id).refused = "error in the request hook"
            flow.response = FALLBACK.copy()

    def _decide(self, flow: http.HTTPFlow) -> None:
        request = flow.request
        ip = flow.client_conn.peername[0]
        url = request.pretty_url
        verdict = self.enforcer.decide(ip, request.pretty_host, url, log_event=False)
        term = searchterms.search_term(verdict.host, request.path)
        self.enforcer.note(verdict, ip, url, kind=request.method, signal=signals.request_signal(flow),
                           search_term=term)
        flow.metadata["schoolgate"] = verdict.decision.as_dict()
        if verdict.blocked:
            flow.response = blockpage.response(verdict.decision, verdict.client, url, self.settings.public_url)
            return
        self.notes.get(flow.client_conn.id).approved = True
