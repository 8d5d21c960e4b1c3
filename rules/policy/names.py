"""One normal form for host names, so that every comparison in schoolgate means the same thing.

The normal form is lower case, without a trailing dot, with Unicode labels in IDNA (punycode).
A name that cannot be a DNS host name raises `InvalidHost` with a sentence a person can act on.
"""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache

import idna

MAX_NAME_LENGTH = 253
MAX_LABEL_LENGTH = 63

# Letters, digits, hyphen and underscore (underscore appears in real names such as _dmarc or
# SRV owners, and in some CDN host names); labels never empty.
_ASCII_NAME = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*$")


_DOTTED_QUAD = re.compile(r"^\d{1,3}(?:\.\d{1,3}){3}$")
_HEX = re.compile(r"^[0-9a-fA-F]+$")
_OCTAL = re.compile(r"^[0-7]+$")


class InvalidHost(ValueError):
    """A string that is not a usable host name; the message says why."""


def normalize_host(raw: str) -> str:
    """Return the normal form of a host name, or raise `InvalidHost`.

    The fast path (plain ASCII, the common case on the wire) costs one `lower()` and one regex.
    """
    if not isinstance(raw, str):
        raise InvalidHost(f"not a host name: {raw!r}")
    name = raw.strip()
    if name.endswith("."):
        name = name[:-1]
    if not name:
        raise InvalidHost("empty host name")
    if name.isascii():
        name = name.lower()
        if len(name) <= MAX_NAME_LENGTH and _ASCII_NAME.match(name):
            if "xn--" in name:
                _check_punycode(name)
            return name
        raise InvalidHost(_explain(name))
    try:
        encoded = idna.encode(name, uts46=True).decode("ascii")
    except idna.IDNAError as exc:
        raise InvalidHost(f"not a valid international host name: {name!r} ({exc})") from None
    return normalize_host(encoded)


def is_ip_address(text: str) -> bool:
    """Say whether `text` is a literal IPv4 or IPv6 address (brackets allowed for IPv6).

    Names are rejected by a regex before `ipaddress` is asked: list imports call this for every line.
    """
    candidate = text.strip("[]")
    if ":" not in candidate and not _DOTTED_QUAD.match(candidate):
        return False
    return _parses_as_ip(candidate)


@lru_cache(maxsize=4096)
def _parses_as_ip(candidate: str) -> bool:
    """Cached: a hosts file repeats one or two addresses (0.0.0.0, 127.0.0.1) on every line."""
    try:
        ipaddress.ip_address(candidate)
    except ValueError:
        return False
    return True


def numeric_ipv4(text: str) -> str | None:
    """The dotted IPv4 address a numeric host means, or None if `text` is not an IPv4 number at all.

    Resolvers and browsers read host names with inet_aton rules: one to four parts, each decimal,
    octal (a leading 0) or hex (0x), the last part filling the remaining bytes. So `2130706433`,
    `0x7f000001`, `127.1`, `0177.0.0.1` and `0x7f.1` all connect to 127.0.0.1. Treated as names they
    would dodge every IP rule and the internal-address check. A trailing dot is allowed, as for names.
    Anything with a part that is not a number (`1.2.3.4.example.com`, `0x7f000001.example`) is a name.
    """
    candidate = text.strip()
    if candidate.endswith("."):
        candidate = candidate[:-1]
    parts = candidate.split(".")
    if not candidate or len(parts) > 4:
        return None
    values: list[int] = []
    for part in parts:
        value = _ipv4_part(part)
        if value is None:
            return None
        values.append(value)
    *leading, last = values
    if any(v > 255 for v in leading) or last >= 256 ** (5 - len(values)):
        return None
    number = last
    for index, value in enumerate(leading):
        number += value << (8 * (3 - index))
    return str(ipaddress.IPv4Address(number))


def _ipv4_part(part: str) -> int | None:
    if part[:2].lower() == "0x":
        digits = part[2:]
        return int(digits, 16) if digits and _HEX.match(digits) else (0 if not digits else None)
    if not part.isascii() or not part.isdigit():
        return None
    if len(part) > 1 and part[0] == "0":
        return int(part, 8) if _OCTAL.match(part) else None
    return int(part)


def ip_literal(text: str) -> str | None:
    """The canonical text of the IP address `text` names (any IPv4 numeric form, IPv6 with or without
    brackets), or None for a name. This is what the proxy logs, decides on and checks before connecting."""
    candidate = text.strip()
    if candidate.startswith("[") and candidate.endswith("]"):
        candidate = candidate[1:-1]
    if ":" in candidate:
        try:
            return str(ipaddress.IPv6Address(candidate))
        except ValueError:
            return None
    return numeric_ipv4(candidate)


def parent_domains(host: str) -> list[str]:
    """Return `host` and each parent by whole labels: a.b.c -> [a.b.c, b.c, c]."""
    names = [host]
    start = host.find(".")
    while start != -1:
        names.append(host[start + 1 :])
        start = host.find(".", start + 1)
    return names


def _check_punycode(name: str) -> None:
    for label in name.split("."):
        if label.startswith("xn--"):
            try:
                label.encode("ascii").decode("idna")
            except UnicodeError:
                raise InvalidHost(f"label {label!r} in {name!r} is not valid punycode") from None


def _explain(name: str) -> str:
    if len(name) > MAX_NAME_LENGTH:
        return f"host name longer than {MAX_NAME_LENGTH} characters ({len(name)})"
    shown = name if len(name) <= 80 else name[:77] + "..."
    for label in name.split("."):
        if not label:
            return f"empty label in host name {shown!r}"
        if len(label) > MAX_LABEL_LENGTH:
            return f"label longer than {MAX_LABEL_LENGTH} characters in {shown!r}"
        if label.startswith("-") or label.endswith("-"):
            return f"label {label[:63]!r} starts or ends with a hyphen in {shown!r}"
    bad = sorted({c for c in name if not (c.isalnum() or c in "-_.")})
    if bad:
        return f"character {bad[0]!r} is not allowed in a host name: {shown!r}"
    return f"not a valid host name: {shown!r}"
