"""The second link: a per-client rate limit (`[dns] rate_limit_qps`), so one flooding device cannot
starve the others. It comes right after the client check and before any work is done for the query.

A token bucket per address: `qps` tokens a second, a burst of one second's worth. Queries over the
limit are dropped without an answer (an answer would only feed the flood); the client's resolver
retries later as it would after a lost packet.
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)

MAX_TRACKED = 65536  # addresses; the table is reset when it grows past this (a school has far fewer)


class RateLimit:
    """`allow(ip, now)` says whether this query may go on."""

    def __init__(self, qps: int) -> None:
        self.qps = float(qps)
        self.dropped = 0
        self._buckets: dict[str, list[float]] = {}  # ip -> [tokens, last refill time]
        self._warned: dict[str, float] = {}

    def allow(self, ip: str, now: float) -> bool:
        bucket = self._buckets.get(ip)
        if bucket is None:
            if len(self._buckets) >= MAX_TRACKED:
                self._buckets.clear()
            self._buckets[ip] = [self.qps - 1.0, now]
            return True
        tokens = bucket[0] + (now - bucket[1]) * self.qps
        if tokens > self.qps:
            tokens = self.qps
        bucket[1] = now
        if tokens >= 1.0:
            bucket[0] = tokens - 1.0
            return True
        bucket[0] = tokens
        self.dropped += 1
        if now - self._warned.get(ip, 0.0) > 60.0:
            self._warned[ip] = now
            log.warning("client %s is over the rate limit of %d queries/s; dropping its excess queries",
                        ip, int(self.qps))
        return False
