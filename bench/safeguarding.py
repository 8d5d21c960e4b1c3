"""Bench for safeguarding matching: the cost of one text, on one core.

Texts are a school day's own: the search terms and the (host, URL path) pairs of
tests/fixtures/school_searches.py, and every distinct host of tests/fixtures/school_day.py, plus a few
concerns written as pupils type them (leetspeak, spacing, URL encoding), so that the slower paths of the
normalisation are in the mix. Each kind is timed apart, best of `--repeat` runs, in µs per text; the
compile time of the built-in catalogue is reported too (once per process, and again when a school's list
changes).

Usage: python bench/safeguarding.py [--rounds 200] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rules.safeguarding.catalogue import builtin_phrases  # noqa: E402
from rules.safeguarding.matcher import Matcher  # noqa: E402
from tests.fixtures.school_day import school_day  # noqa: E402
from tests.fixtures.school_searches import REQUESTS, SEARCHES  # noqa: E402

CONCERNS = ["how to k1ll my5elf", "kiiiill myself", "s e l f h a r m", "how%20to%20kill%20myself",
            "how+many+pills+to+overdose", "pr0 @na tips", "where to buy weed", "he is blackmailing me"]


def per_text(texts: Sequence[object], call: Callable[[object], object], rounds: int, repeat: int) -> float:
    """Best of `repeat` timings of `rounds` passes over `texts`, in µs per text."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        for _ in range(rounds):
            for text in texts:
                call(text)
        best = min(best, (time.perf_counter() - started) / (rounds * len(texts)))
    return best * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    started = time.perf_counter()
    phrases = builtin_phrases()  # read and checked: every phrase compiled once, which compiling reuses
    matcher = Matcher.compile(phrases)
    compile_ms = (time.perf_counter() - started) * 1e3
    hosts = sorted({event.host for event in school_day() if event.host})
    results = {
        "phrases": len(phrases.entries), "innocent_phrases": len(phrases.innocents),
        "compile_ms": round(compile_ms, 1),
        "search_us": per_text(SEARCHES, lambda t: matcher.match_search(str(t)), args.rounds, args.repeat),
        "request_us": per_text(REQUESTS, lambda r: matcher.match_site(*r), args.rounds, args.repeat),  # type: ignore[misc]
        "host_us": per_text(hosts, lambda h: matcher.match_site(str(h)), args.rounds, args.repeat),
        "concern_us": per_text(CONCERNS, lambda t: matcher.match(str(t)), args.rounds, args.repeat),
    }
    print(f"safeguarding matching: {results['phrases']} phrases and {results['innocent_phrases']} innocent phrases, "
          f"read and compiled in {results['compile_ms']} ms")
    for key, label, count in (("search_us", "search terms", len(SEARCHES)), ("request_us", "host + URL path",
                              len(REQUESTS)), ("host_us", "hosts alone", len(hosts)),
                              ("concern_us", "concerns typed as pupils type", len(CONCERNS))):
        results[key] = round(results[key], 2)
        print(f"  {label:32} {results[key]:7.2f} µs per text ({count} texts)")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
