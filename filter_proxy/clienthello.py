"""TLS: decide on the ClientHello's server name, before any byte goes upstream.

Allowed: `ignore_connection`, so the bytes pass through untouched and the client sees the origin's
own certificate. Blocked: without `intercept_tls`, `ignore_connection` too, and the gate refuses the
server connection (`connection_strategy=lazy` means none exists yet), which closes the client: no
certificate is needed on the device. With `intercept_tls`, mitmproxy terminates TLS with a
certificate from the school's CA, and the request hook serves the block page inside HTTPS.

Inside a CONNECT tunnel the CONNECT target was decided already; the SNI is decided again only if it
names another host (domain fronting), and then both must allow.
"""

from __future__ import annotations

import logging

from mitmproxy import tls

from filter_proxy import searchterms, signals
from filter_proxy.enforcer import Enforcer, Verdict, host_form
from filter_proxy.notes import Note, Notes
from filter_proxy.settings import Settings
from rules.monitoring.signals import SignalKind
from rules.policy.names import InvalidHost, ip_literal

log = logging.getLogger("schoolgate.proxy")
KIND = "TLS"


class ClientHello:
    """The `tls_clienthello` hook."""

    def __init__(self, enforcer: Enforcer, notes: Notes, settings: Settings) -> None:
        self.enforcer = enforcer
        self.notes = notes
        self.settings = settings

    def tls_clienthello(self, data: tls.ClientHelloData) -> None:
        client = data.context.client
        try:
            self._decide(data)
        except Exception:
            log.exception("ALERT: ClientHello hook failed for %r; closing (fail closed)", client.sni)
            self.notes.get(client.id).refused = "error in the ClientHello hook"
            data.ignore_connection = True

    def _decide(self, data: tls.ClientHelloData) -> None:
        client = data.context.client
        ip = client.peername[0]
        note = self.notes.get(client.id)
        sni = data.client_hello.sni
        signal = signals.clienthello_signal(data.client_hello)
        if note.connect_verdict is not None:
            verdict = self._in_tunnel(note, note.connect_verdict, ip, sni, signal)
        else:
            # Transparent mode: decide on the server name; the connection then goes where that name leads
            # (`filter_proxy.destinations`), not to the address the device chose. Without a name there is
            # only that address, and only an exception for it opens the connection.
            destination = data.context.server.address
            host = sni or (destination[0] if destination else "")
            signal = signal or signals.host_signal(host)
            verdict = self.enforcer.decide(ip, host, kind=KIND, signal=signal, log_event=False)
            if ip_literal(host) is None:
                note.name = verdict.host
            else:
                verdict = self.enforcer.nameless(verdict)
            self.enforcer.note(verdict, ip, kind=KIND, signal=signal)
        if verdict.blocked:
            note.refused = note.refused or f"TLS to {verdict.host} blocked"
            data.ignore_connection = not self.settings.intercept_tls
            return
        if note.refused is None:
            note.approved = True
        intercept = self.settings.intercept_tls and searchterms.is_search_host(verdict.host)
        data.ignore_connection = not intercept

    def _in_tunnel(self, note: Note, connected: Verdict, ip: str, sni: str | None,
                   signal: SignalKind | None) -> Verdict:
        """The verdict for TLS inside a CONNECT tunnel whose target was `connected`."""
        try:
            same = sni is None or host_form(sni) == connected.host
        except InvalidHost:
            same = False
        if same:
            if signal is not None:  # the decision was recorded at CONNECT; the signal is new
                self.enforcer.note(connected, ip, kind=KIND, signal=signal)
            return connected
        fronted = self.enforcer.decide(ip, sni or "", kind=KIND, signal=signals.SNI_MISMATCH)
        return connected if connected.blocked else fronted
