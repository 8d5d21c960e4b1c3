"""A forked child (a gunicorn worker) never uses the connections its parent's pool holds."""

from __future__ import annotations

import os

from sqlalchemy import text

from rules.store.db import Database


def test_a_forked_child_opens_its_own_connection_and_the_parent_keeps_its_own(db: Database) -> None:
    with db.engine.connect() as connection:  # the parent's pool now holds an open connection
        connection.execute(text("SELECT 1"))
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: query many times, as a worker would, then report
        try:
            os.close(reader)
            for _ in range(50):
                with db.engine.connect() as connection:
                    connection.execute(text("SELECT 2")).scalar()
            os.write(writer, b"ok")
        except BaseException as exc:  # everything is reported to the parent
            os.write(writer, repr(exc).encode()[:500])
        finally:
            os._exit(0)
    os.close(writer)
    for _ in range(50):  # the parent goes on using its pool at the same time
        with db.engine.connect() as connection:
            assert connection.execute(text("SELECT 3")).scalar() == 3
    os.waitpid(pid, 0)
    with os.fdopen(reader, "rb") as result:
        assert result.read() == b"ok"
