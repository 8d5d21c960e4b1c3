"""End to end, in real Chromium against `schoolgate web`: two schools of a trust in one database (issue 15).

Both schools are made by `schoolgate init` under two configurations that differ only in `[site] name`; each gets
its first headteacher and ICT technician, and its own device, ban, access request and log entries through the
rules/ API. A headteacher of school A never sees school B's rows, and B's ids typed into the address bar give the
404 page; a trust admin sees both schools, switches to B in the header and registers a device that lands in B.
Screenshots go to test-output/screenshots/schools-*.png.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from rules.devices.registry import register_device
from rules.sites import site_id_by_name
from rules.store.db import Database
from rules.store.models import AccessEvent, Ban, Device, User, utcnow
from rules.workflows.access_requests import file_request
from rules.workflows.accounts import create_user
from tests.conftest import Cli
from tests.e2e.web_support import CHROMIUM, Person, web_process

pytest.importorskip("playwright.sync_api")  # the whole file drives Chromium
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium at /usr/bin/chromium")

A_HEAD = ("ann.head@apple.test", "Ann Head", "apple head password")
A_ICT = ("ian.tech@apple.test", "Ian Tech", "apple ict password")
B_HEAD = ("zed.head@zebra.test", "Zed Head", "zebra head password")
B_ICT = ("zia.tech@zebra.test", "Zia Tech", "zebra ict password")
TRUST = ("tia.trust@trust.test", "Tia Trust", "trust admin password")


@dataclass(frozen=True)
class Rows:
    """One school's ids."""

    site: int
    device: int
    ban: int
    request: int


def _config(folder: Path, database: Path, school: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "schoolgate.toml"
    path.write_text(f'[database]\nurl = "sqlite:///{database}"\n\n[site]\nname = "{school}"\n', encoding="utf-8")
    return path


def _school_rows(db: Database, school: str, mark: str, head_email: str) -> Rows:
    """A device, its ban, an open access request and three blocked look-ups, all named with `mark`."""
    with db.session() as session:
        site = site_id_by_name(session, school)
        assert site is not None
        device = register_device(session, ip="10.1.0.5", mac="02:00:00:00:00:05", name=f"{mark} iPad 07",
                                 group="pupils", person=f"{mark} Pupil", actor="test", site_id=site).device
        ban = Ban(site_id=site, device_id=device.id, person=f"{mark} Pupil", reason="VPN")
        session.add(ban)
        head = session.scalars(select(User).where(User.email == head_email)).one()
        request = file_request(session, head, full_url=f"https://{mark.lower()}-request.example/", site_content="x",
                               reasons="lesson", risks="none", site_id=site)
        now = utcnow()
        session.add_all(AccessEvent(site_id=site, ts=now - timedelta(minutes=i), client_ip="10.1.0.5",
                                    device_id=device.id, device=device.name, source="dns", action="block",
                                    host=f"{mark.lower()}-secret.example", category="games", reason="category")
                        for i in range(3))
        session.flush()
        return Rows(site, device.id, ban.id, request.id)


@pytest.fixture
def trust(tmp_path: Path) -> Iterator[tuple[Cli, Rows, Rows, Database]]:
    """Two schools by `schoolgate init` on one SQLite database, their rows, and a trust admin."""
    database = tmp_path / "var" / "schoolgate.db"
    apple = Cli(_config(tmp_path / "apple", database, "apple-school"), tmp_path / "apple")
    zebra = Cli(_config(tmp_path / "zebra", database, "zebra-school"), tmp_path / "zebra")
    for cli, head, ict in ((apple, A_HEAD, A_ICT), (zebra, B_HEAD, B_ICT)):
        cli("init", "--headteacher", head[0], "--headteacher-name", head[1], "--ict", ict[0], "--ict-name", ict[1],
            "--password-stdin", input=f"{head[2]}\n{ict[2]}\n")
    db = Database(f"sqlite:///{database}")
    try:
        a = _school_rows(db, "apple-school", "Apple", A_HEAD[0])
        b = _school_rows(db, "zebra-school", "Zebra", B_HEAD[0])
        with db.session() as session:
            create_user(session, email=TRUST[0], name=TRUST[1], roles=["trust_admin"], password=TRUST[2],
                        actor="test", site_ids=())
        yield apple, a, b, db
    finally:
        db.dispose()


def test_a_headteacher_sees_her_school_and_a_trust_admin_both(trust: tuple[Cli, Rows, Rows, Database],
                                                              browser: object, tmp_path: Path) -> None:
    apple, a, b, db = trust
    with web_process(apple, tmp_path / "apple") as web:
        head = Person(browser, web, A_HEAD)
        for path in ("/", "/bans/", "/requests/", "/logs/", "/logs/?action=block", "/audit/", "/accounts/"):
            head.go(path)
            text = head.page.inner_text("body")
            assert "Zebra" not in text and "zebra" not in text, path
        head.go("/bans/")
        assert "Apple Pupil" in head.page.inner_text("main")
        head.go("/logs/")
        assert "apple-secret.example" in head.page.inner_text("main")
        assert head.page.locator("form.school-switch").count() == 0  # one school: no switcher
        head.shot("schools-01-headteacher-logs")
        for path in (f"/bans/{b.ban}", f"/bans/{b.ban}/evidence", f"/logs/device/{b.device}",
                     f"/requests/{b.request}", f"/requests/{b.request}/print"):
            response = head.page.goto(web + path)  # typed into the address bar
            assert response is not None and response.status == 404, path
            assert "Not found" in head.page.inner_text("main") and "Zebra" not in head.page.inner_text("body")
        head.shot("schools-02-headteacher-404")
        assert head.page.goto(web + f"/bans/{a.ban}").status == 200  # type: ignore[union-attr]
        head.close()

        admin = Person(browser, web, TRUST)
        for path, words in (("/bans/", ("Apple Pupil", "Zebra Pupil")), ("/requests/", ("apple-request",
                                                                                         "zebra-request")),
                            ("/logs/", ("apple-secret.example", "zebra-secret.example")),
                            ("/devices/", ("Apple iPad 07", "Zebra iPad 07"))):
            admin.go(path)
            main = admin.page.inner_text("main")
            assert all(word in main for word in words), (path, main)
            assert admin.page.locator("th:text-is('School')").count() == 1, path
        admin.shot("schools-03-trust-admin-devices")
        admin.page.select_option("#school-switch", label="zebra-school")
        admin.page.click("button:has-text('Work in this school')")
        admin.go("/devices/new")
        admin.page.fill("input[name=name]", "Zebra Library PC")
        admin.page.fill("input[name=ip]", "10.1.0.9")
        admin.page.select_option("select[name=group]", "pupils")
        admin.shot("schools-04-trust-admin-new-device")
        admin.page.click("main button:has-text('Save')")
        admin.page.wait_for_url("**/devices/")
        assert "Registered the device" in admin.page.inner_text("main")
        row = admin.page.locator("tr", has_text="Zebra Library PC")
        assert "zebra-school" in row.inner_text()
        admin.close()
    with db.session(read_only=True) as session:
        made = session.scalars(select(Device).where(Device.name == "Zebra Library PC")).one()
        assert made.site_id == b.site and made.group is not None and made.group.site_id == b.site
        for ipad in (a.device, b.device):  # one address, a device in each school
            found = session.get(Device, ipad)
            assert found is not None and [x.ip for x in found.addresses] == ["10.1.0.5"]
