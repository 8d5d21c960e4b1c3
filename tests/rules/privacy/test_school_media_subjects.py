"""Subject access and erasure reach the rest of the policy's records: a parent named in the abuse log (with the
screenshot of what they posted), and a member of staff's site creation forms and school account roles."""

from __future__ import annotations

import base64
import json
import struct
import zlib
from datetime import date
from pathlib import Path

from sqlalchemy import select

from rules.privacy.erasure import erase, preview
from rules.privacy.export import export_person
from rules.privacy.terms import ERASED
from rules.school_media.abuse_log import EntryInput, PostedBy, create_entry
from rules.school_media.screenshots import check_image
from rules.store.db import Database
from rules.store.models import AbuseLogEntry, AbuseScreenshot, SiteCreationForm, SocialAccount, SocialAccountMember
from rules.workflows.accounts import create_user

PARENT = "Petra Parentson"


def tiny_png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00\x00")) + \
        chunk(b"IEND", b"")


def exported(db: Database, person: str, folder: Path) -> dict[str, object]:
    files = export_person(db, person, folder, "ann.head@school.test", None)
    json_path = next(p for p in files.paths if p.suffix == ".json")
    loaded: dict[str, object] = json.loads(json_path.read_text())
    return loaded


def test_a_parent_named_in_the_abuse_log_is_exported_with_the_screenshot_then_erased(db: Database,
                                                                                        tmp_path: Path) -> None:
    png = tiny_png()
    with db.session() as session:
        entry = create_entry(session, "ann.head@school.test",
                             EntryInput(occurred_on=date(2026, 11, 2), platform="facebook", account_text="PTA page",
                                        posted_text="An unkind comment about a teacher",
                                        posted_by_kind=PostedBy.PARENT, posted_by_name=PARENT, has_screenshot=True),
                             today=date(2026, 11, 27), screenshot=check_image(png))
        other = create_entry(session, "ann.head@school.test",
                             EntryInput(occurred_on=date(2026, 11, 3), platform="x", account_text="@someone",
                                        posted_text="Someone else's post", posted_by_kind=PostedBy.PUBLIC,
                                        posted_by_name="Quentin Other"),
                             today=date(2026, 11, 27))
        entry_id, other_id = entry.id, other.id
    data = exported(db, PARENT.upper(), tmp_path / "out")
    sections = data["sections"] if "sections" in data else data
    assert isinstance(sections, dict)
    entries = sections["abuse_log"]
    assert [e["id"] for e in entries] == [entry_id]
    assert base64.b64decode(entries[0]["screenshots"][0]["data_base64"]) == png
    assert preview(db, PARENT)["abuse_log"] == 1

    erase(db, PARENT, "ann.head@school.test")
    with db.session(read_only=True) as session:
        kept = session.get(AbuseLogEntry, entry_id)
        assert kept is not None and kept.posted_by_name == ERASED
        assert kept.posted_text == "An unkind comment about a teacher"  # the school's record of what was posted
        assert session.scalar(select(AbuseScreenshot.size).where(AbuseScreenshot.entry_id == entry_id)) == len(png)
        untouched = session.get(AbuseLogEntry, other_id)
        assert untouched is not None and untouched.posted_by_name == "Quentin Other"


def test_a_member_of_staffs_export_lists_their_site_forms_and_school_account_roles(db: Database,
                                                                                    tmp_path: Path) -> None:
    with db.session() as session:
        tia = create_user(session, email="tia.teacher@school.test", name="Tia Teacher", roles=["staff"],
                          password=None, actor="test")
        form = SiteCreationForm(requester_id=tia.id, requester_name=tia.name, platform="tiktok", site_name="Sports",
                                department="PE", moderator="Tia Teacher", aims="Share sports days",
                                content="Results")
        account = SocialAccount(name="Sports", platform="tiktok", created_by="ann.head@school.test")
        session.add_all([form, account])
        session.flush()
        session.add(SocialAccountMember(account_id=account.id, user_id=tia.id, role="poster",
                                        added_by="ann.head@school.test"))
        form_id = form.id
    data = exported(db, "tia.teacher@school.test", tmp_path / "out")
    sections = data["sections"] if "sections" in data else data
    assert isinstance(sections, dict)
    assert [f["id"] for f in sections["site_forms"]] == [form_id]
    assert [m["role"] for m in sections["school_account_roles"]] == ["poster"]
