"""URLs that people type into the forms: http(s) only, parsed once, so a `javascript:` URL never gets stored."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from rules.policy.names import InvalidHost, normalize_host

MAX_URL_LENGTH = 2048


class BadURL(ValueError):
    """Not a full http:// or https:// address; the message says what to type instead."""


@dataclass(frozen=True)
class WebURL:
    """A checked URL: the text as typed (trimmed), its host in normal form, and "host/path" for URL rules."""

    text: str
    host: str
    prefix: str


def parse_web_url(raw: str) -> WebURL:
    """Check one full URL; raise `BadURL` for anything that is not http(s) with a real host name."""
    text = raw.strip()
    if not text:
        raise BadURL("enter the full address, starting with http:// or https://")
    if len(text) > MAX_URL_LENGTH:
        raise BadURL(f"the address is longer than {MAX_URL_LENGTH} characters")
    if any(ord(ch) < 33 for ch in text):
        raise BadURL("the address must not contain spaces or control characters")
    try:
        parts = urlsplit(text)
    except ValueError:  # "http://[::1": an unclosed IPv6 bracket
        raise BadURL(f"{text[:80]!r} is not a web address: check the part after http:// or https://") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise BadURL(f"{text[:80]!r} is not a web address: it must start with http:// or https://")
    try:
        host = normalize_host(parts.hostname)
    except InvalidHost as exc:
        raise BadURL(str(exc)) from None
    path = parts.path or "/"
    return WebURL(text=text, host=host, prefix=f"{host}{path}")


def parse_web_urls(raw: str, limit: int = 20) -> list[WebURL]:
    """Several URLs, one a line (the report form's "Full URL(s)")."""
    lines = [line for line in raw.splitlines() if line.strip()]
    if not lines:
        raise BadURL("enter at least one full address, starting with http:// or https://")
    if len(lines) > limit:
        raise BadURL(f"at most {limit} addresses in one report")
    return [parse_web_url(line) for line in lines]


def safe_href(raw: str | None) -> str | None:
    """The URL when it may go in an href (http or https), else None: hostile input stays text."""
    if not raw:
        return None
    try:
        return parse_web_url(raw).text
    except BadURL:
        return None
