"""Fixtures for the admin web: the app on a real database, one account per role, a signed-in client."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient

from admin_web import create_app
from admin_web.settings import WebSettings
from rules.store.db import Database
from rules.workflows.accounts import create_user

PASSWORD = "correct horse battery"
ACCOUNTS = {
    "staff": ("sam.staff@school.test", "Sam Staff", ["staff"]),
    "other": ("olly.other@school.test", "Olly Other", ["staff"]),
    "ict": ("ian.tech@school.test", "Ian Tech", ["ict"]),
    "headteacher": ("ann.head@school.test", "Ann Head", ["headteacher"]),
    "head2": ("hal.head@school.test", "Hal Deputy", ["headteacher"]),
    "dsl": ("dee.dsl@school.test", "Dee Lead", ["dsl"]),
    "marketing": ("mo.market@school.test", "Mo Market", ["marketing"]),
    "office_manager": ("olive.office@school.test", "Olive Office", ["office_manager"]),
    "dpo": ("dan.dpo@school.test", "Dan Protect", ["dpo"]),
    "trust_admin": ("tia.trust@trust.test", "Tia Trust", ["trust_admin"]),
}
_CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')


@pytest.fixture(autouse=True)
def quick_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cheap argon2 parameters, so the many accounts the tests create do not dominate the run."""
    cheap = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)
    monkeypatch.setattr("rules.workflows.accounts.hasher", cheap)


def make_app(db: Database, state_dir: Path) -> Flask:
    for email, name, roles in ACCOUNTS.values():
        with db.session() as session:
            create_user(session, email=email, name=name, roles=roles, password=PASSWORD, actor="test")
    return create_app(WebSettings(), db=db, state_dir=state_dir, overrides={"TESTING": True})


@pytest.fixture
def app(db: Database, tmp_path: Path) -> Iterator[Flask]:
    yield make_app(db, tmp_path / "state")


@pytest.fixture
def sqlite_app(sqlite_db: Database, tmp_path: Path) -> Iterator[Flask]:
    yield make_app(sqlite_db, tmp_path / "state")


def csrf_token(client: FlaskClient, path: str = "/signin") -> str:
    page = client.get(path).get_data(as_text=True)
    match = _CSRF.search(page)
    assert match, f"no CSRF token on {path}"
    return match.group(1) or match.group(2)


def sign_in(client: FlaskClient, who: str) -> FlaskClient:
    email = ACCOUNTS[who][0]
    response = client.post("/signin", data={"email": email, "password": PASSWORD, "csrf_token": csrf_token(client)})
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


def post(client: FlaskClient, path: str, data: dict[str, object], form_page: str = "/") -> object:
    """POST with the CSRF token from a page the person can open."""
    return client.post(path, data={**data, "csrf_token": csrf_token(client, form_page)})
