"""HTTP requests (plain, or HTTPS intercepted): decide on where the request goes, answer blocked ones with a page.

In regular (explicit) mode a plain-HTTP request is decided on its target, `flow.request.host`: the
URL's host for `GET http://host/`, where mitmproxy connects, never the Host header alone. Deciding on
the Host header while connecting to the URL's host would let
`curl -x proxy http://blocked.example/ -H 'Host: allowed.example'` through; so a Host header that names
another host than the target is refused with 400 and recorded with the `host_mismatch` signal. In
transparent mode the original destination is an address, and the Host header is the only name there is.

An allowed target still has to be a place the proxy may connect to (`filter_proxy.destinations`): an
internal address gets the block page. The block page is served from the proxy itself (with
`connection_strategy=lazy` no server connection exists yet). Search terms and circumvention signals
are recorded on the request's access event.
"""

from __future__ import annotations

import logging

from mitmproxy import http
from mitmproxy.net.http import url as mitm_url
from mitmproxy.proxy.mode_specs import RegularMode, TransparentMode

from filter_proxy import blockpage, searchterms, signals
from filter_proxy.destinations import Destinations, internal_decision
from filter_proxy.enforcer import Enforcer, Verdict, host_form
from filter_proxy.notes import Notes
from filter_proxy.settings import Settings
from rules.policy.decision import Action, Decision, Reason
from rules.policy.names import InvalidHost, ip_literal

log = logging.getLogger("schoolgate.proxy")
FALLBACK = http.Response.make(403, b"Blocked by the school's web filter (error).\n",
                              {"content-type": "text/plain; charset=utf-8", "x-schoolgate": "blocked"})
DEFAULT_PORTS = {"http": 80, "https": 443}


def host_mismatch(request: http.Request) -> str | None:
    """Why the Host header names another host (or port) than the request's target, or None when it agrees.

    Names are compared in normal form (`WWW.Example.org.` is www.example.org, `0x7f.1` is 127.0.0.1) and a
    missing port is the scheme's default. No Host header at all is no disagreement.
    """
    header = request.host_header
    if not header:
        return None
    default = DEFAULT_PORTS.get(request.scheme, request.port)
    try:
        host, port = mitm_url.parse_authority(header, check=True)
        same = host_form(host) == host_form(request.host) and (port or default) == request.port
    except (ValueError, InvalidHost):
        same = False
    if same:
        return None
    return f"the Host header {header[:100]!r} names another host than {request.host[:100]}:{request.port}"


class Request:
    """The `request` hook."""

    def __init__(self, enforcer: Enforcer, notes: Notes, settings: Settings, destinations: Destinations) -> None:
        self.enforcer = enforcer
        self.notes = notes
        self.settings = settings
        self.destinations = destinations

    async def request(self, flow: http.HTTPFlow) -> None:
        try:
            await self._decide(flow)
        except Exception:
            log.exception("ALERT: request hook failed for %r; blocking (fail closed)", flow.request.pretty_host)
            self.notes.get(flow.client_conn.id).refused = "error in the request hook"
            flow.response = FALLBACK.copy()

    async def _decide(self, flow: http.HTTPFlow) -> None:
        request = flow.request
        ip = flow.client_conn.peername[0]
        if isinstance(flow.client_conn.proxy_mode, RegularMode) and not flow.client_conn.tls:
            target, url = request.host, request.url  # where mitmproxy will connect
            mismatch = host_mismatch(request)
            if mismatch is not None:
                decision = Decision(Action.BLOCK, Reason.HOST_MISMATCH, rule=mismatch)
                self.enforcer.refuse(ip, target, decision, url, kind=request.method, signal=signals.HOST_MISMATCH)
                flow.metadata["schoolgate"] = decision.as_dict()
                flow.response = http.Response.make(
                    400, b"Bad request: the Host header names another site than the address asked for.\n",
                    {"content-type": "text/plain; charset=utf-8", "x-schoolgate": "blocked"})
                return
        else:
            # Transparent mode: the destination is an address, the Host header is the only name. Inside an
            # intercepted CONNECT tunnel: the tunnel's target and SNI were decided already, and a Host that
            # names another site is decided as well (and noted as sni_mismatch), as before.
            target, url = request.pretty_host, request.pretty_url
        verdict = self.enforcer.decide(ip, target, url, log_event=False)
        note = self.notes.get(flow.client_conn.id)
        # where the connection will go: in transparent plain HTTP, where the Host name leads (not the address
        # the device chose); a Host that is an address names no site
        destination = request.host
        if isinstance(flow.client_conn.proxy_mode, TransparentMode) and not flow.client_conn.tls:
            if ip_literal(target) is None:
                note.name = destination = verdict.host
            else:
                verdict = self.enforcer.nameless(verdict)
        if not verdict.blocked:
            vetted = await self.destinations.vet(destination, request.port)
            if vetted.refused is not None:
                verdict = Verdict(internal_decision(vetted.refused), verdict.client, verdict.host)
        term = searchterms.search_term(verdict.host, request.path)
        self.enforcer.note(verdict, ip, url, kind=request.method, signal=signals.request_signal(flow, target),
                           search_term=term)
        flow.metadata["schoolgate"] = verdict.decision.as_dict()
        if verdict.blocked:
            flow.response = blockpage.response(verdict.decision, verdict.client, url, self.settings.public_url)
            return
        note.approved = True
