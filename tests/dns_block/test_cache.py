from __future__ import annotations

from dnslib import QTYPE, RR, A, DNSRecord

from dns_block.cache import AnswerCache

SCOPE = ("pupils", None)


def reply(ttl: int = 300) -> bytes:
    record = DNSRecord.question("a.test").reply()
    record.add_answer(RR("a.test", QTYPE.A, rdata=A("198.18.0.1"), ttl=ttl))
    return record.pack()


def test_entry_lives_no_longer_than_its_ttl_and_counts_down() -> None:
    cache = AnswerCache()
    assert cache.put((SCOPE, b"k"), reply(60), 86_400, 1000.0, ("tail",), 512, cache.generation)
    entry = cache.get((SCOPE, b"k"), 1030.5)
    assert entry is not None
    assert DNSRecord.parse(b"\x00\x00" + entry.reply_body(1030.5)).rr[0].ttl == 30
    assert cache.get((SCOPE, b"k"), 1060.0) is None


def test_scope_is_part_of_the_key() -> None:
    cache = AnswerCache()
    cache.put((SCOPE, b"k"), reply(), 300, 0.0, (), 512, cache.generation)
    assert cache.get((("staff", None), b"k"), 1.0) is None
    assert cache.get((("pupils", 7), b"k"), 1.0) is None


def test_clear_forgets_and_refuses_replies_from_an_older_generation() -> None:
    cache = AnswerCache()
    started = cache.generation
    cache.put((SCOPE, b"k"), reply(), 300, 0.0, (), 512, started)
    cache.clear()
    assert cache.get((SCOPE, b"k"), 1.0) is None
    assert not cache.put((SCOPE, b"k"), reply(), 300, 0.0, (), 512, started)


def test_entries_end_at_the_next_policy_change() -> None:
    cache = AnswerCache()
    cache.clear(valid_until=100.0)
    cache.put((SCOPE, b"k"), reply(), 300, 90.0, (), 512, cache.generation)
    assert cache.get((SCOPE, b"k"), 99.0) is not None
    assert cache.get((SCOPE, b"k"), 100.0) is None


def test_fixed_answers_keep_their_ttl_and_zero_ttls_are_not_cached() -> None:
    cache = AnswerCache()
    assert cache.put((SCOPE, b"b"), reply(10), 3600, 0.0, (), 512, cache.generation, count_down=False)
    entry = cache.get((SCOPE, b"b"), 1000.0)
    assert entry is not None and DNSRecord.parse(b"\x00\x00" + entry.reply_body(1000.0)).rr[0].ttl == 10
    assert not cache.put((SCOPE, b"z"), reply(0), 3600, 0.0, (), 512, cache.generation)


def test_bounded() -> None:
    cache = AnswerCache(max_entries=2)
    for key in (b"1", b"2", b"3"):
        cache.put((SCOPE, key), reply(), 300, 0.0, (), 512, cache.generation)
    assert len(cache) == 2 and cache.get((SCOPE, b"1"), 1.0) is None


def test_max_ttl_caps_the_entry_and_the_ttls_it_serves() -> None:
    cache = AnswerCache(max_ttl=120)
    assert cache.put((SCOPE, b"k"), reply(86_400), 86_400, 1000.0, (), 512, cache.generation)
    entry = cache.get((SCOPE, b"k"), 1000.0)
    assert entry is not None and DNSRecord.parse(b"\x00\x00" + entry.reply_body(1000.0)).rr[0].ttl == 120
    assert DNSRecord.parse(b"\x00\x00" + entry.reply_body(1100.0)).rr[0].ttl == 20
    assert cache.get((SCOPE, b"k"), 1119.0) is not None and cache.get((SCOPE, b"k"), 1120.0) is None
    assert AnswerCache().max_ttl == 3600  # the default of [dns] max_cache_ttl
