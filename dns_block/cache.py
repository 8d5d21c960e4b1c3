"""The answer cache: whole replies keyed by the raw query (everything after the transaction ID) and the
client's cache scope, so a repeat query is answered without parsing it at all: look up, patch the ID in,
send. This is the fast path that lets Python keep pace with dnsmasq (bench/dns measures it).

Why it is safe:
- the key is the query's bytes after the ID: flags, question as asked (case included), EDNS, so a hit
  is byte-for-byte a query that was parsed, decided and answered before;
- the scope (`snapshot.cache_scope(client)`: group, and device when it has rules of its own) is in the
  key, so a reply decided for one group is never served to another;
- a cached reply never outlives the decision it was made under: the cache is emptied on every snapshot
  swap (`clear()`, from `store.on_swap`), and when `snapshot.next_change()` (a timed rule, ban or
  supervised session) comes round; a reply resolved under an older generation is not stored;
- TTLs are honoured: an entry lives no longer than the lowest TTL in it, and the TTLs sent are counted
  down with the entry's age;
- no entry lives longer than `max_ttl` (`[dns] max_cache_ttl`, an hour by default), and no TTL it
  serves is higher: a wrong or poisoned answer that slipped in anyway, or a site that moved, is asked
  for again within that time, and clients are not told to keep it longer either.
"""

from __future__ import annotations

import math

from dns_block import wire

CacheKey = tuple[tuple[str, int | None], bytes]
# The event's fields from `source` to `search_term` (see `rules.store.event_writer.EventRecord`): source, qtype,
# host, url, action, category, rule, reason, search_term. The signal is the resolver's.
EventTail = tuple[str, str | None, str, str | None, str, str | None, str | None, str | None, str | None]


class Entry:
    """One cached reply (without its ID) and the event fields that go with it."""

    __slots__ = ("original", "body", "fields", "born", "age", "expires", "tail", "udp_ok")

    def __init__(self, reply: bytes, fields: list[tuple[int, int]], born: float, expires: float,
                 tail: EventTail, udp_ok: bool) -> None:
        self.original = reply
        self.body = reply[2:]
        self.fields = fields
        self.born = born
        self.age = 0
        self.expires = expires
        self.tail = tail
        self.udp_ok = udp_ok

    def reply_body(self, now: float) -> bytes:
        """The reply after the ID, with TTLs counted down to `now` (recomputed once a second at most)."""
        if self.fields:
            age = int(now - self.born)
            if age != self.age:
                self.age = age
                self.body = wire.aged(self.original, self.fields, age)[2:]
        return self.body


class AnswerCache:
    """See the module docstring. Used from the event loop's thread only."""

    def __init__(self, max_entries: int = 200_000, max_ttl: int = 3600) -> None:
        self.max_entries = max_entries
        self.max_ttl = max_ttl
        self.generation = 0
        self.valid_until = math.inf  # wall-clock time of the snapshot's next timed change
        self._entries: dict[CacheKey, Entry] = {}
        self.hits = 0

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self, valid_until: float = math.inf) -> None:
        """Forget every reply (the policy changed); replies being resolved now will not be stored."""
        self._entries = {}
        self.generation += 1
        self.valid_until = valid_until

    def get(self, key: CacheKey, now: float) -> Entry | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if now >= entry.expires:
            del self._entries[key]
            return None
        self.hits += 1
        return entry

    def put(self, key: CacheKey, reply: bytes, lifetime: int, now: float, tail: EventTail, udp_limit: int,
            generation: int, count_down: bool = True) -> bool:
        """Store `reply` for `lifetime` seconds (capped by its own TTLs when `count_down`); say if stored."""
        if generation != self.generation or lifetime <= 0:
            return False
        fields: list[tuple[int, int]] = []
        if count_down:
            try:
                lowest, fields = wire.ttl_fields(reply)
            except ValueError:
                return False
            if lowest >= 0:
                lifetime = min(lifetime, lowest)
            if any(ttl > self.max_ttl for _, ttl in fields):
                fields = [(offset, min(ttl, self.max_ttl)) for offset, ttl in fields]
                reply = wire.aged(reply, fields, 0)
            if lifetime <= 0:
                return False
        expires = min(now + min(lifetime, self.max_ttl), self.valid_until)
        if expires <= now:
            return False
        entries = self._entries
        if len(entries) >= self.max_entries:
            del entries[next(iter(entries))]  # the oldest insertion goes first
        entries[key] = Entry(reply, fields, now, expires, tail, len(reply) <= udp_limit)
        return True
