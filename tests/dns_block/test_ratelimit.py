from __future__ import annotations

from dns_block.ratelimit import RateLimit


def test_one_flooding_client_is_cut_off_and_others_are_not() -> None:
    limit = RateLimit(10)
    allowed = sum(limit.allow("10.0.0.1", 100.0) for _ in range(50))
    assert allowed == 10
    assert limit.allow("10.0.0.2", 100.0)
    assert limit.dropped == 40


def test_tokens_come_back_with_time() -> None:
    limit = RateLimit(10)
    for _ in range(20):
        limit.allow("10.0.0.1", 100.0)
    assert not limit.allow("10.0.0.1", 100.0)
    assert limit.allow("10.0.0.1", 100.5)
    assert sum(limit.allow("10.0.0.1", 200.0) for _ in range(50)) == 10
