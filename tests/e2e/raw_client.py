"""A plain HTTP(S) client for end-to-end tests that must choose where a request comes from.

Browsers cannot send from 127.0.0.2 while another sends from 127.0.0.3; `http.client` can
(`source_address`), which is how one machine plays a pupil's laptop and the headteacher's PC. Each client
keeps its own cookies (its own session and CSRF token), as two browsers would.
"""

from __future__ import annotations

import http.client
import re
import ssl
from dataclasses import dataclass
from http.cookies import SimpleCookie
from urllib.parse import urlencode, urlsplit

_CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')


@dataclass
class Answer:
    status: int
    headers: http.client.HTTPMessage
    text: str


class RawClient:
    """Requests to the web at `base` (http or https, as `web_process` yields it) from the address `source`."""

    def __init__(self, base: str, source: str) -> None:
        parts = urlsplit(base)
        self.scheme, self.host, self.port = parts.scheme, parts.hostname or "127.0.0.1", parts.port
        self.source = source
        self.cookies: dict[str, str] = {}

    def _connection(self) -> http.client.HTTPConnection:
        if self.scheme == "https":
            # Who may sign in is under test here, not the certificate (tests of TLS trust the school CA).
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            return http.client.HTTPSConnection(self.host, self.port, timeout=30, source_address=(self.source, 0),
                                               context=context)
        return http.client.HTTPConnection(self.host, self.port, timeout=30, source_address=(self.source, 0))

    def request(self, method: str, path: str, form: dict[str, str] | None = None) -> Answer:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())} if self.cookies else {}
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            # A browser sends the page it posts from (Referrer-Policy: same-origin); over HTTPS Flask-WTF
            # refuses a form without it, as it should a cross-site post.
            headers["Referer"] = f"{self.scheme}://{self.host}:{self.port}{path}"
        connection = self._connection()
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            text = response.read().decode("utf-8", "replace")
        finally:
            connection.close()
        for value in response.headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(value).items():
                self.cookies[name] = morsel.value
        return Answer(response.status, response.headers, text)

    def csrf_token(self, path: str = "/signin") -> str:
        match = _CSRF.search(self.request("GET", path).text)
        assert match, f"no CSRF token on {path}"
        return match.group(1) or match.group(2)
