"""The block page and the ban page: HTML responses that say what happened, escaped throughout.

Everything that came from the request (host, URL, device name) goes through `html.escape`; the
"Request access" link carries the URL percent-encoded, then escaped for the attribute.
"""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape
from string import Template
from urllib.parse import quote

from mitmproxy import http

from rules.localtime import LONDON
from rules.policy.decision import Action, Client, Decision, Reason

HEADERS = {"content-type": "text/html; charset=utf-8", "cache-control": "no-store",
           "x-schoolgate": "blocked"}

_PAGE = Template("""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>$title</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font-family:sans-serif;max-width:40em;margin:3em auto;padding:0 1em;line-height:1.5}
dt{font-weight:bold}a.button{display:inline-block;padding:.5em 1em;background:#1d4f91;color:#fff}</style>
</head><body>
<h1>$title</h1>
$body
</body></html>
""")

_BLOCK = Template("""<p>This page is blocked by the school's web filter.</p>
<dl>
<dt>Address</dt><dd id="url">$url</dd>
<dt>Category</dt><dd id="category">$category</dd>
<dt>Rule</dt><dd id="rule">$rule</dd>
<dt>Why</dt><dd id="why">$why</dd>
<dt>Device</dt><dd id="device">$device</dd>
<dt>Time</dt><dd id="time">$time</dd>
</dl>
<p>If you need this page for your work, ask for it to be opened:</p>
<p><a class="button" id="request-access" href="$request_href">Request access</a></p>
""")

_BAN = Template("""<p><strong>This device cannot use the internet now.</strong></p>
<p>Please speak to your teacher.</p>
<p id="device">Device: $device</p>
<p id="time">Time: $time</p>
""")


def london_time(at: datetime | None = None) -> str:
    """The time as a person in the school reads it (Europe/London)."""
    moment = (at or datetime.now(UTC)).astimezone(LONDON)
    return moment.strftime("%d %B %Y, %H:%M %Z")


def request_access_url(public_url: str, url: str) -> str:
    """The admin web's "Request access" form with the blocked URL filled in."""
    return f"{public_url.rstrip('/')}/requests/new?url={quote(url, safe='')}"


def render(decision: Decision, client: Client | None, url: str, public_url: str,
           at: datetime | None = None) -> str:
    """The HTML for a blocked request: a ban page for a banned device, else the block page."""
    device = escape(client.label if client is not None else "unknown device")
    when = escape(london_time(at))
    if decision.action is Action.BAN:
        body = _BAN.substitute(device=device, time=when)
        return _PAGE.substitute(title="This device cannot use the internet now", body=body)
    body = _BLOCK.substitute(
        url=escape(url), category=escape(decision.category or "-"), rule=escape(decision.rule or "-"),
        why=escape(decision.explain()), device=device, time=when,
        request_href=escape(request_access_url(public_url, url), quote=True))
    return _PAGE.substitute(title="Blocked by the school's web filter", body=body)


def response(decision: Decision, client: Client | None, url: str, public_url: str) -> http.Response:
    """A 403 carrying the block (or ban) page."""
    return http.Response.make(403, render(decision, client, url, public_url), HEADERS)


def connect_refusal(decision: Decision) -> http.Response:
    """The short 403 answer to a blocked CONNECT: no tunnel is made. A banned device is told what the ban page says."""
    if decision.action is Action.BAN:
        return http.Response.make(403, b"This device cannot use the internet now. Please speak to your teacher.\n",
                                  {"content-type": "text/plain; charset=utf-8", "x-schoolgate": "banned"})
    text = "Blocked by the school's web filter"
    if decision.category:
        text += f" (category: {decision.category})"
    if decision.reason in (Reason.PORT, Reason.INTERNAL_ADDRESS):
        text += f": {decision.explain()}"
    return http.Response.make(403, text + ".\n", {"content-type": "text/plain; charset=utf-8",
                                                   "x-schoolgate": "blocked"})
