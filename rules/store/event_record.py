"""The access event as the enforcers make it: `EventRecord`, the columns of `access_events` in order.

Kept apart from the writer so that the writer's parts (the serving process's appender, the spool segments, the
writer process) share it without importing each other.
"""

from __future__ import annotations

from typing import NamedTuple


class EventRecord(NamedTuple):
    """One access event on its way to the `access_events` table (`rules.store.models.AccessEvent`).

    A NamedTuple rather than a dataclass because DNS makes one for every query it answers: it is built like
    a tuple and handed to `executemany` as one, and its fields are the table's columns in this order (the
    INSERT is made from `_fields`). The first four fields are what `PolicySnapshot.event_head()` returns, so
    the hot paths can build a record positionally from the head and a cached tail.

    `transport` is how the device reached us ("udp" or "tcp"): a completed TCP connection proves the source
    address was the sender's own, a UDP datagram does not (its source can be forged). `port` is the
    destination port a gateway catcher saw (blocked ports, DNS over TLS). `signal` is a
    `rules.monitoring.signals.SignalKind`, or None for an ordinary event.

    The writer also takes a plain tuple in this field order: DNS's cache-hit path appends one, because
    building a NamedTuple there costs more than half the rest of answering from the cache (measured:
    1.2 µs a query with a tuple, 1.95 µs with `_make`).
    """

    ts: float
    client_ip: str
    device_id: int | None
    device: str | None
    mac: str | None
    source: str
    qtype: str | None
    host: str
    url: str | None
    action: str
    category: str | None
    rule: str | None
    reason: str | None
    search_term: str | None
    signal: str | None
    transport: str | None
    port: int | None


# What the writer takes: a record, or a plain tuple in its field order (DNS's cache-hit path).
EventRow = EventRecord | tuple[object, ...]


def event(ts: float, client_ip: str, source: str, host: str, action: str, *, device_id: int | None = None,
          device: str | None = None, mac: str | None = None, qtype: str | None = None, url: str | None = None,
          category: str | None = None, rule: str | None = None, reason: str | None = None,
          search_term: str | None = None, signal: str | None = None, transport: str | None = None,
          port: int | None = None) -> EventRecord:
    """An `EventRecord` with only the fields that matter given, the rest None (for tests and tools)."""
    return EventRecord(ts=ts, client_ip=client_ip, device_id=device_id, device=device, mac=mac, source=source,
                       qtype=qtype, host=host, url=url, action=action, category=category, rule=rule, reason=reason,
                       search_term=search_term, signal=signal, transport=transport, port=port)
