"""What `decide()` returns, designed first: an action, a documented reason, and the rule behind it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Action(StrEnum):
    """What the enforcer does: answer normally, block (block page), or enforce a ban (ban page)."""

    ALLOW = "allow"
    BLOCK = "block"
    BAN = "ban"


class Reason(StrEnum):
    """Why, in precedence order: the first that applies wins, so a ban or a locked category can never be
    opened by an exception or an allow rule.

    - BANNED: the device, or the person it is assigned to, has an active ban.
    - BAN_ALLOWLIST: banned, but the host is on the short list a banned device may still reach.
    - LOCKED_CATEGORY: the host is in a locked category; no exception can open it.
    - EXCEPTION: an allow rule (usually an approved access request) in scope and in date.
    - BLOCK_RULE: a block rule made by a person (usually from an inappropriate content report).
    - CATEGORY: the host is in a category blocked for the device's group.
    - DEFAULT: nothing matched; allowed.
    - ERROR: the decision failed; schoolgate fails closed and blocks.

    The proxy adds three of its own, about where a request would go rather than what the site is:
    - INTERNAL_ADDRESS: the host is (or resolves to) a loopback, private, link-local or gateway address.
    - PORT: a CONNECT to a port outside `[proxy] connect_ports`.
    - HOST_MISMATCH: the Host header names another host than the one the request goes to.
    - NAMELESS: in transparent mode, a connection that names no site (TLS without a server name, HTTP with
      an address for a Host): the filter cannot tell which site it is, so only an exception opens it.

    DNS adds one, decided before any policy:
    - HARDENING: a name answered the same way for everyone (Firefox's DoH canary, iCloud Private Relay,
      resolver.arpa) so that devices stay on the school's resolver and so inside the filter.
    """

    BANNED = "banned"
    BAN_ALLOWLIST = "ban_allowlist"
    LOCKED_CATEGORY = "locked_category"
    EXCEPTION = "exception"
    BLOCK_RULE = "block_rule"
    CATEGORY = "category"
    DEFAULT = "default"
    ERROR = "error"
    INTERNAL_ADDRESS = "internal_address"
    PORT = "port"
    HOST_MISMATCH = "host_mismatch"
    NAMELESS = "nameless"
    HARDENING = "hardening"


EXPLANATIONS = {
    Reason.BANNED: "this device (or its user) is banned for trying to get round the filter",
    Reason.BAN_ALLOWLIST: "banned, but this site stays open to banned devices",
    Reason.LOCKED_CATEGORY: "the site is in a locked category that can never be unblocked",
    Reason.EXCEPTION: "an approved exception opens this site",
    Reason.BLOCK_RULE: "a block rule made by staff covers this site",
    Reason.CATEGORY: "the site is in a category blocked for this group",
    Reason.DEFAULT: "no rule matched",
    Reason.ERROR: "the decision failed, so the site is blocked to be safe",
    Reason.INTERNAL_ADDRESS: "the address is inside the school's or the filter's own network, which the "
                             "proxy does not connect to",
    Reason.PORT: "secure connections through the filter go only to the usual HTTPS port",
    Reason.HOST_MISMATCH: "the request named one site and asked for another",
    Reason.NAMELESS: "the connection did not say which site it was for, so the filter cannot check it",
    Reason.HARDENING: "the school's DNS answers this name the same way for everyone, so that devices keep "
                      "using the filter",
}


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome for one host (and URL) for one client."""

    action: Action
    reason: Reason
    category: str | None = None
    rule: str | None = None  # human-readable: which list entry or rule matched
    rule_id: int | None = None  # the Rule row, when a person's rule decided
    ban_id: int | None = None

    @property
    def blocked(self) -> bool:
        return self.action is not Action.ALLOW

    def explain(self) -> str:
        return EXPLANATIONS[self.reason]

    def as_dict(self) -> dict[str, object]:
        return {
            "action": self.action.value,
            "reason": self.reason.value,
            "category": self.category,
            "rule": self.rule,
            "rule_id": self.rule_id,
            "ban_id": self.ban_id,
            "explanation": self.explain(),
        }


FAIL_CLOSED = Decision(Action.BLOCK, Reason.ERROR, rule="error in the decision")


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """A registered device, as the enforcers see it."""

    id: int
    name: str
    group: str
    mac: str | None = None
    person: str | None = None


@dataclass(frozen=True, slots=True)
class Client:
    """Who is asking: the address, the device when known, and the group whose policy applies."""

    ip: str
    group: str
    device: DeviceInfo | None = None

    @property
    def label(self) -> str:
        if self.device is None:
            return f"{self.ip} (unregistered, group {self.group})"
        person = f", {self.device.person}" if self.device.person else ""
        return f"{self.device.name} ({self.ip}, group {self.group}{person})"
