"""Posts in subject access and erasure: a pupil's export lists the posts they appear in, a member of staff's the
posts they submitted; erasing the pupil takes them out of the post and leaves the post."""

from __future__ import annotations

import html
import json
from pathlib import Path

from sqlalchemy import select

from rules.privacy.erasure import erase
from rules.privacy.export import export_person
from rules.school_media.posts import Draft, submit
from rules.store.db import Database
from rules.store.models import SocialPost, SocialPostPupil, User
from rules.workflows.accounts import create_user
from tests.fixtures.post_school import taccount, tconsent, tposter, tpupil


def a_post(db: Database) -> tuple[int, int]:
    with db.session() as session:
        create_user(session, email="pat.poster@school.example", name="Pat Poster", roles=["staff"], password=None,
                    actor="t")
        poppy, bea = tpupil(session, "Poppy Pupil", "4B"), tpupil(session, "Bea Other", "4B")
        for pupil in (poppy, bea):
            tconsent(session, pupil, images=True, videos=True)
        account = taccount(session)
        tposter(session, account, "pat.poster@school.example")
        author = session.scalars(select(User).where(User.email == "pat.poster@school.example")).one()
        post = submit(session, author, Draft(account.id, "Our class assembly", True, False,
                                             classes=frozenset({"4B"})))
        return post.id, poppy.id


def test_the_pupil_and_the_author_see_the_post_in_their_export(db: Database, tmp_path: Path) -> None:
    post_id, _ = a_post(db)
    pupil = json.loads(export_person(db, "Poppy Pupil", tmp_path / "p", "cli:root", None).paths[0].read_text())
    [record] = pupil["pupils"]
    assert [(p["id"], p["text"], p["via_class"]) for p in record["posts"]] == [(post_id, "Our class assembly", "4B")]
    assert pupil["posts_written"] == []
    exported = export_person(db, "Pat Poster", tmp_path / "s", "cli:root", None)
    staff = json.loads(exported.paths[0].read_text())
    assert [(p["id"], p["author_name"]) for p in staff["posts_written"]] == [(post_id, "Pat Poster")]
    assert exported.counts["posts_written"] == 1
    assert "Posts they submitted for the school's social media accounts" in html.unescape(exported.paths[1].read_text())


def test_erasing_a_pupil_takes_them_out_of_the_post(db: Database) -> None:
    post_id, poppy = a_post(db)
    erase(db, "Poppy Pupil", "cli:root")
    with db.session(read_only=True) as session:
        assert session.get(SocialPost, post_id) is not None
        left = list(session.scalars(select(SocialPostPupil.pupil_id).where(SocialPostPupil.post_id == post_id)))
        assert poppy not in left and len(left) == 1
