"""The compiled policy kept on disk for `schoolgate check`, so that it answers at once.

Compiling the policy needs SQLAlchemy, whose import alone costs more than the answer a technician waits
for. The snapshot is immutable and carries its policy version, so `check` keeps the last one it compiled
in the state folder (mode 0600) and, on an SQLite database, reads only the version with the standard
library's sqlite3 before trusting it: a different version (any change to lists, rules, devices, bans), a
different ban allowlist, a different schoolgate (the file records a fingerprint of the code that defines what
is pickled: an upgrade that adds a field must not read an old file), or any doubt about the file means compiling
again. PostgreSQL always compiles.

The file is one school's (`[site] name` is in its name and its key): a gateway's snapshot holds only its own
school's devices, and two schools' devices may share an address. The school is named rather than numbered so
that the fast path needs no database to find its id.

The domain table is not kept as it is: its keys are `hash(str)`, salted per process. The (domain, tag)
pairs are kept instead and the table is built again on reading (a school's lists: milliseconds).
"""

from __future__ import annotations

import hashlib
import os
import pickle
import sqlite3
import stat
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from rules.policy import matcher
from rules.policy.matcher import DomainTable

if TYPE_CHECKING:
    from rules.policy.snapshot import PolicySnapshot

FILE_NAME = "check-snapshot-{site}.pickle"
Key = tuple[int, tuple[str, ...], str]  # policy version, ban allowlist, school name
# The modules whose classes a kept snapshot holds (the snapshot, its rules, decisions and bans, their states).
_PICKLED_FROM = (Path(matcher.__file__).parent, Path(matcher.__file__).parent.parent / "monitoring" / "states.py")


def code_fingerprint() -> str:
    """A digest of the source that defines a kept snapshot's classes: another schoolgate, another digest."""
    digest = hashlib.sha256()
    for place in _PICKLED_FROM:
        for path in sorted(place.glob("*.py")) if place.is_dir() else [place]:
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def sqlite_policy_version(url: str) -> int | None:
    """The policy version of an SQLite database (read only), or None: not SQLite, or not readable."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or "?" in url:
        return None
    path = url[len(prefix):]
    if not path or path == ":memory:" or not Path(path).is_file():
        return None
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=2) as conn:
            row = conn.execute("SELECT version FROM policy_state WHERE id = 1").fetchone()
    except sqlite3.Error:
        return None
    return int(row[0] or 0) if row else None


def file_path(folder: Path, site: str) -> Path:
    """Where the school `site` keeps its snapshot (its name is a slug: `rules.sites.SITE_NAME_PATTERN`)."""
    return folder / FILE_NAME.format(site=site)


def load(folder: Path, key: Key) -> PolicySnapshot | None:
    """The kept snapshot if it was compiled for `key`; None when there is none or it cannot be trusted
    (not ours, writable by others, unreadable, or for another version or school)."""
    path = file_path(folder, key[2])
    try:
        info = path.stat()
        if info.st_uid != os.getuid() or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            return None
        with open(path, "rb") as handle:
            code = pickle.load(handle)  # the fingerprint first, alone: an old file is refused before its classes load
            if code != code_fingerprint():
                return None
            kept_key, snapshot, entries = pickle.load(handle)
        if kept_key != key:
            return None
        return replace(snapshot, table=DomainTable.build(entries, len(entries)))
    except Exception:
        return None


def save(folder: Path, key: Key, snapshot: PolicySnapshot, entries: list[tuple[str, int]]) -> None:
    """Keep `snapshot`, with the (domain, tag) pairs its table was built from, for the next `check`; best
    effort (a read-only state folder just means compiling next time)."""
    path = file_path(folder, key[2])
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            pickle.dump(code_fingerprint(), handle, protocol=pickle.HIGHEST_PROTOCOL)
            pickle.dump((key, replace(snapshot, table=None), entries), handle,  # type: ignore[arg-type]
                        protocol=pickle.HIGHEST_PROTOCOL)
        tmp.replace(path)
    except (OSError, pickle.PicklingError, TypeError):
        tmp.unlink(missing_ok=True)
