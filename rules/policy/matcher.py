"""Suffix matching of host names against very large domain lists, in little memory.

A list of a million domains held as a Python `set` of strings costs well over 100 MB. `DomainTable`
keeps only a 64-bit hash of each domain in an open-addressing table built on `array.array`
(about 24 bytes a domain), and maps each to a small integer tag (for schoolgate, a bitmask of the
categories that list the domain). A lookup walks the host's parents by whole labels, so its cost grows
with the number of labels in the name, never with the size of the list.

Hashes are Python's own `hash(str)`, which is salted per process: a table is built and used in the same
process and never written to disk. Two different names share a 64-bit hash with a probability of about
n^2 / 2^65 (3e-8 for a million names); that is accepted.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable

_EMPTY = 0


def _key(name: str) -> int:
    h = hash(name)
    return h if h != _EMPTY else 1


class DomainTable:
    """An immutable set of domains, each with an integer tag, matched by whole-label suffix."""

    __slots__ = ("_keys", "_tags", "_mask", "_count", "_filter", "_filter_mask")

    def __init__(self, capacity: int = 0) -> None:
        size = 8
        while size < capacity * 2:
            size <<= 1
        self._mask = size - 1
        self._keys = array("q", bytes(8 * size))
        self._tags = array("Q", bytes(8 * size))
        self._count = 0
        # A one-hash Bloom filter of every entry's last two labels (16 bits an entry, about 6% false
        # positives when full): any listed parent of a host shares the host's last two labels, so a host
        # whose last two labels miss the filter cannot match, and most names are answered by one probe.
        bits = 1 << 16
        while bits < capacity * 16:
            bits <<= 1
        self._filter = bytearray(bits >> 3)
        self._filter_mask = bits - 1

    def __reduce__(self) -> tuple[object, ...]:
        """Refuse to be pickled: the keys are `hash(str)`, salted per process, so a table read back in another
        process would match nothing (and the filter would fail open). Keep the (domain, tag) pairs instead."""
        raise TypeError("a DomainTable holds per-process hashes and cannot leave its process; keep its entries")

    @classmethod
    def build(cls, items: Iterable[tuple[str, int]], capacity: int) -> DomainTable:
        """Build a table from (normal-form domain, tag) pairs; tags of a repeated domain are OR-ed.

        `capacity` is the number of pairs expected (an upper bound is fine); the table never grows,
        so that it can be sized once and filled from a stream without holding the strings.
        """
        table = cls(capacity)
        for name, tag in items:
            table._add(name, tag)
        return table

    def _add(self, name: str, tag: int) -> None:
        if self._count * 2 >= self._mask + 1:
            raise OverflowError("DomainTable is full: build it with a larger capacity")
        h = hash(_last_two_labels(name)) & self._filter_mask
        self._filter[h >> 3] |= 1 << (h & 7)
        key = _key(name)
        keys, mask = self._keys, self._mask
        slot = key & mask
        while True:
            found = keys[slot]
            if found == key:
                self._tags[slot] |= tag
                return
            if found == _EMPTY:
                keys[slot] = key
                self._tags[slot] = tag
                self._count += 1
                return
            slot = (slot + 1) & mask

    def __len__(self) -> int:
        return self._count

    def get(self, name: str) -> int:
        """Return the tag of exactly `name`, or 0 when it is not in the table."""
        key = hash(name) or 1
        keys, mask = self._keys, self._mask
        slot = key & mask
        while True:
            found = keys[slot]
            if found == key:
                return self._tags[slot]
            if found == _EMPTY:
                return 0
            slot = (slot + 1) & mask

    def match(self, host: str) -> tuple[int, str | None]:
        """Return the OR of the tags of `host` and its parents, and the most specific listed name.

        `host` must be in normal form (see `rules.policy.names.normalize_host`). Lists never hold a bare
        top-level domain, so the last label alone is not probed. The probe loop is written out here
        rather than calling `get`, because this is the hot path of every DNS answer.
        """
        last = host.rfind(".")
        if last == -1:
            return 0, None
        cut = host.rfind(".", 0, last)
        h = hash(host[cut + 1 :] if cut != -1 else host) & self._filter_mask
        if not self._filter[h >> 3] >> (h & 7) & 1:
            return 0, None
        keys, tags_of, mask = self._keys, self._tags, self._mask
        tags = 0
        listed: str | None = None
        position = 0
        for label in host.split(".")[:-1]:
            name = host[position:] if position else host
            key = hash(name) or 1
            slot = key & mask
            found = keys[slot]
            while found:
                if found == key:
                    tags |= tags_of[slot]
                    if listed is None:
                        listed = name
                    break
                slot = (slot + 1) & mask
                found = keys[slot]
            position += len(label) + 1
        return tags, listed

    def nbytes(self) -> int:
        """Memory held by the table's arrays, for the operator's status and the benchmark."""
        return self._keys.itemsize * len(self._keys) + self._tags.itemsize * len(self._tags) + len(self._filter)


def _last_two_labels(name: str) -> str:
    cut = name.rfind(".", 0, name.rfind("."))
    return name[cut + 1 :] if cut != -1 else name
