"""End to end: a pupil cannot keep the headteacher out of the real `schoolgate web` by guessing her password.

One address (127.0.0.2, the pupil's laptop) sends 50 wrong passwords for the headteacher's email; another
(127.0.0.3, her PC) signs in at once with the right one. The pupil's address gets 429 with a wait in plain
words, never a message about a locked account, and may try again once the wait is over.
"""

from __future__ import annotations

import re
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from rules.workflows.signin_throttle import PAIR_FREE
from tests.conftest import Cli
from tests.e2e.raw_client import RawClient
from tests.e2e.web_support import web_process

HEAD = ("ann.head@school.test", "Ann Head", "head password 1")
ICT = ("ian.tech@school.test", "Ian Tech", "ict password 12")
WAIT = re.compile(r"Wait (\d+) seconds?, then try again")


@pytest.fixture
def web(cli: Cli, tmp_path: Path) -> Iterator[str]:
    cli("init", "--headteacher", HEAD[0], "--headteacher-name", HEAD[1], "--ict", ICT[0], "--ict-name", ICT[1],
        "--password-stdin", input=f"{HEAD[2]}\n{ICT[2]}\n")
    with web_process(cli, tmp_path) as base:
        yield base


def sign_in(client: RawClient, password: str, token: str) -> tuple[int, str, float]:
    """One attempt at the headteacher's account: status, page text, seconds it took."""
    started = time.monotonic()
    answer = client.request("POST", "/signin", {"email": HEAD[0], "password": password, "csrf_token": token})
    return answer.status, answer.text, time.monotonic() - started


def test_fifty_wrong_passwords_from_one_address_never_keep_the_headteacher_out(web: str, tmp_path: Path) -> None:
    pupil = RawClient(web, "127.0.0.2")
    token = pupil.csrf_token()
    answers = [sign_in(pupil, f"guess number {n}", token) for n in range(50)]

    statuses = [status for status, _, _ in answers]
    assert statuses[:PAIR_FREE] == [200] * PAIR_FREE  # checked, and wrong
    assert all("do not match an active account" in text for _, text, _ in answers[:PAIR_FREE])
    # then slowed: answered at once with a wait (a slow machine may let one or two more be checked, never more)
    assert set(statuses) == {200, 429} and statuses.count(429) >= 50 - PAIR_FREE - 2, statuses
    assert statuses[PAIR_FREE] == 429
    for status, text, took in answers:
        assert "lock" not in text.lower()
        if status == 429:
            assert WAIT.search(text), text
            assert took < 2  # no server thread sleeps the wait away
    last_wait = int(WAIT.findall(answers[-1][1])[0])
    assert 1 <= last_wait <= 300

    # The headteacher, from her own PC, signs in at once with the right password
    head = RawClient(web, "127.0.0.3")
    status, _, took = sign_in(head, HEAD[2], head.csrf_token())
    assert status == 302 and took < 5
    assert "Hello, Ann Head" in head.request("GET", "/").text

    # Only checked attempts were recorded, each under the pupil's address: the flood wrote nothing
    with sqlite3.connect(tmp_path / "var" / "schoolgate.db") as db:
        failed = db.execute("SELECT reason, count(*) FROM audit_log WHERE action = 'signin.failed' "
                            "GROUP BY reason").fetchall()
    assert failed == [("127.0.0.2", statuses.count(200))]

    # The pupil's address is told the same wait again (with Retry-After), and may try once it has passed
    again = pupil.request("POST", "/signin", {"email": HEAD[0], "password": "one more", "csrf_token": token})
    assert again.status == 429 and 1 <= int(again.headers["Retry-After"]) <= last_wait
    time.sleep(int(again.headers["Retry-After"]) + 0.5)
    status, text, _ = sign_in(pupil, HEAD[2], token)  # (the real password, as if she had used the laptop)
    assert status == 302, text


def test_parallel_guesses_are_checked_no_more_often_than_one_at_a_time(cli: Cli, tmp_path: Path,
                                                                       pg_url: str) -> None:
    """On PostgreSQL, attempts sent together all read the count before any failure was written, so a pupil's
    script firing 40 guesses at once had 8 checked (as many as the web's threads), then 8 more each time the wait
    ran out: the throttle multiplied by the server's threads. The attempts from one address are now checked in turn."""
    cli.config.write_text(f'[database]\nurl = "{pg_url}"\n')
    cli("init", "--headteacher", HEAD[0], "--headteacher-name", HEAD[1], "--password-stdin", input=f"{HEAD[2]}\n")
    with web_process(cli, tmp_path) as base:
        pupils = [RawClient(base, "127.0.0.4") for _ in range(40)]
        tokens = [pupil.csrf_token() for pupil in pupils]
        start = threading.Barrier(len(pupils))
        statuses: list[int] = []

        def guess(pupil: RawClient, token: str, n: int) -> None:
            start.wait()
            statuses.append(sign_in(pupil, f"parallel guess {n}", token)[0])

        threads = [threading.Thread(target=guess, args=(p, t, n)) for n, (p, t) in enumerate(zip(pupils, tokens,
                                                                                                  strict=True))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert sorted(statuses) == [200] * PAIR_FREE + [429] * (len(pupils) - PAIR_FREE)
    import psycopg

    with psycopg.connect(pg_url.replace("+psycopg", "")) as db:
        checked = db.execute("SELECT count(*) FROM audit_log WHERE action = 'signin.failed'").fetchone()
    assert checked == (PAIR_FREE,)
