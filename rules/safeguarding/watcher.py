"""The concern watcher: reads every new access event, matches it, and raises (or folds) concerns.

It runs in the scheduler's process (`schoolgate scheduler`, and so `schoolgate run`), beside the
circumvention watcher, polling about once a second so a search becomes a concern, and a high one an email,
within seconds. Matching happens here, never in DNS or the proxy, so filtering pays nothing for it.

For each event, in order:
1. a device's own automatic lookup (`rules.automatic`) is skipped: it says nothing about a person;
2. the search term, if any, is matched as a search (`match_search`);
3. otherwise the host and URL path are matched (`match_site`; the query is left out when a search term was
   captured, as it is the same words); a host alone is cached, so a flood of DNS lookups costs little;
4. a site in a category marked safeguarding raises a concern too, blocked or not (the attempt is the signal).
Then the open concerns whose context is not complete get the device's events that arrived since, and high
concerns not yet emailed are emailed (`rules.safeguarding.notify`).

The school's phrase list is merged with the built-in catalogue and recompiled when it changes; the
safeguarding site categories are read again when the policy version changes.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from sqlalchemy import select

from rules.automatic import is_automatic_lookup
from rules.policy.compile import read_version
from rules.safeguarding import phrases_store
from rules.safeguarding.categories import Severity
from rules.safeguarding.concerns import Finding, raise_from_event
from rules.safeguarding.context import fill_after, path_of
from rules.safeguarding.cursor import EventCursor
from rules.safeguarding.matcher import Match, Matcher, builtin_matcher, matcher_for
from rules.safeguarding.notify import AtOnce, NotifySettings
from rules.safeguarding.phrasefile import PhraseFileError
from rules.safeguarding.states import SITE_CATEGORY_PREFIX, Source
from rules.store.db import Database
from rules.store.models import AccessEvent, Category, Concern

log = logging.getLogger(__name__)
BATCH = 2000
HOST_CACHE = 50_000
SITE_CATEGORY_SEVERITY = Severity.MEDIUM


@dataclass
class PollResult:
    """What one poll did."""

    events: int = 0
    opened: list[int] = field(default_factory=list)
    folded: int = 0


def site_category_finding(event: AccessEvent, matched: str) -> Finding:
    """A visit to a site in a safeguarding site category: medium, blocked or not."""
    name = event.category or ""
    verb = "tried to reach (blocked)" if event.action != "allow" else "reached"
    return Finding(Source.SITE, name[:32], SITE_CATEGORY_SEVERITY, f"{SITE_CATEGORY_PREFIX}{name}",
                   f"The device {verb} a site in the school's safeguarding category {name!r}.", matched)


def _finding(source: Source, match: Match, matched: str) -> Finding:
    return Finding(source, match.category.value, match.severity, match.phrase, match.why, matched)


class ConcernWatcher:
    """Polls the access log, raises concerns, completes their context and sends the at-once mail."""

    def __init__(self, db: Database, notify: NotifySettings | None = None, chair_email: str = "") -> None:
        self.db = db
        self.chair_email = chair_email
        self.cursor = EventCursor()
        self.at_once = AtOnce(db, notify) if notify is not None else None
        self._matcher: Matcher = builtin_matcher()
        self._phrases: object = None
        self._version: int | None = None
        self._site_categories: frozenset[str] = frozenset()
        self._hosts: dict[str, list[Match]] = {}

    def refresh(self) -> None:
        """Recompile the matcher when the school's list changed; reread the safeguarding site categories when
        the policy changed."""
        with self.db.session(read_only=True) as session:
            mark = phrases_store.fingerprint(session)
            if mark != self._phrases:
                try:
                    school = phrases_store.school_list(session)
                except PhraseFileError as exc:  # stored rows this version cannot read: keep the built-in list
                    log.error("the school's safeguarding phrases cannot be used, built-in list only: %s", exc)
                    school = None
                self._matcher = matcher_for(school) if school else builtin_matcher()
                self._hosts.clear()
                self._phrases = mark
            version = read_version(self.db)
            if version != self._version:
                self._site_categories = frozenset(session.scalars(
                    select(Category.name).where(Category.safeguarding.is_(True))))
                self._version = version

    def findings(self, event: AccessEvent) -> list[Finding]:
        """What one event raises (most one phrase finding and one site-category finding)."""
        path = path_of(event.url)
        if is_automatic_lookup(event.host, path):
            return []
        where = f"{event.host}{path or ''}"
        found: list[Finding] = []
        term = (event.search_term or "").strip()
        matches = self._matcher.match_search(term) if term else []
        if matches:
            found.append(_finding(Source.SEARCH, matches[0], term))
        else:
            if term and path:
                path = path.split("?", 1)[0]
            if path and path != "/":
                matches = self._matcher.match_site(event.host, path)
            else:
                matches = self._site(event.host)
            if matches:
                found.append(_finding(Source.SITE, matches[0], where))
        if event.category and event.category in self._site_categories:
            found.append(site_category_finding(event, where))
        return found

    def _site(self, host: str) -> list[Match]:
        cached = self._hosts.get(host)
        if cached is None:
            if len(self._hosts) >= HOST_CACHE:
                self._hosts.clear()
            cached = self._hosts[host] = self._matcher.match_site(host)
        return cached

    def poll_once(self) -> PollResult:
        """Read the new events, raise what they match, complete pending context, send at-once mail."""
        self.refresh()
        result = PollResult()
        with self.db.session(read_only=True) as session:
            events = self.cursor.read(session, BATCH)
        result.events = len(events)
        raised = [(event, finding) for event in events for finding in self.findings(event)]
        with self.db.session() as session:
            for event, finding in raised:
                concern, new = raise_from_event(session, event, finding, self.chair_email)
                if new:
                    result.opened.append(concern.id)
                else:
                    result.folded += 1
            for concern in session.scalars(select(Concern).where(Concern.context_complete.is_(False))):
                fill_after(session, concern)
        if result.opened:
            log.info("raised %d safeguarding concern(s): %s", len(result.opened),
                     ", ".join(f"#{i}" for i in result.opened))
        if self.at_once is not None:
            self.at_once.send_pending()
        return result

    def run(self, stop: threading.Event, interval: float = 1.0) -> None:
        """Poll until `stop` is set; a full batch polls again at once; an error is logged and polling goes on."""
        while not stop.is_set():
            started = time.monotonic()
            try:
                full = self.poll_once().events >= BATCH
            except Exception:
                log.exception("safeguarding concern watcher poll failed")
                full = False
            if not full:
                stop.wait(max(0.0, interval - (time.monotonic() - started)))
