"""Schools, for the safeguarding, personal data, social media, consent, abuse log and review screens.

School A (the default school, where every test account but the trust admin belongs) and school B each have a
full set of rows. Every route of these blueprints, as every role of school A, given B's ids (in the path or in a
form field), answers 404 exactly as a missing id does (403 to a role that may not use the route at all), and
changes nothing; A's lists, counts and exports never show B's rows; a trust admin sees both schools'.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, text

from rules.sites import ensure_site
from rules.store.models import Base, User
from rules.workflows.accounts import ROLES, TRUST_ADMIN_POWERS
from tests.admin_web.conftest import ACCOUNTS, csrf_token, sign_in
from tests.admin_web.school_rows import SchoolRows, make_school

BLUEPRINTS = ("concerns", "raise_concern", "phrases", "privacy", "site_forms", "school_accounts", "posts", "consent",
              "abuse", "review")
ROLES_OF_A = [who for who in ACCOUNTS if who != "trust_admin"]
REVIEW = {"next_review_on": "2027-10-01", "notes": "x"}
ENTRY = {"occurred_on": "2026-11-20", "platform": "other", "account_text": "a page", "posted_text": "x",
         "posted_by_kind": "unknown"}

# endpoint -> (method, path, form): another school's id in the path, or in a form field. {a.x}: school A's row,
# {b.x}: school B's.
BY_ID: dict[str, list[tuple[str, str, dict[str, Any]]]] = {
    "concerns.show": [("GET", "/concerns/{b.concern}", {})],
    "concerns.person_of": [("GET", "/concerns/{b.concern}/person", {})],
    "concerns.triage": [("POST", "/concerns/{b.concern}/triage", {"state": "record_made"}),
                        ("POST", "/concerns/{b.concern}/triage", {})],
    "concerns.note": [("POST", "/concerns/{b.concern}/notes", {"text": "leaked"}),
                      ("POST", "/concerns/{b.concern}/notes", {})],
    "raise_concern.new": [("POST", "/concerns/raise", {"subject": "pupil", "device_id": "{b.device}",
                                                       "category": "bullying_abuse", "severity": "low",
                                                       "what": "told me"})],
    "site_forms.show": [("GET", "/site-forms/{b.form}", {})],
    "site_forms.print_view": [("GET", "/site-forms/{b.form}/print", {})],
    "site_forms.sign_marketing": [("POST", "/site-forms/{b.form}/marketing", {"agree": "y"}),
                                  ("POST", "/site-forms/{b.form}/marketing", {})],
    "site_forms.sign_headteacher": [("POST", "/site-forms/{b.form}/headteacher", {"agree": "y", "schedule_id": "0"})],
    "site_forms.refuse": [("POST", "/site-forms/{b.form}/refuse", {"reason": "no"}),
                          ("POST", "/site-forms/{b.form}/refuse", {})],
    "school_accounts.show": [("GET", "/school-accounts/{b.account}", {})],
    "school_accounts.add_poster": [("POST", "/school-accounts/{b.account}/posters", {"user_id": "{b.staff}"}),
                                   ("POST", "/school-accounts/{a.account}/posters", {"user_id": "{b.staff}"})],
    "school_accounts.remove_poster": [("POST", "/school-accounts/{b.account}/posters/{b.member}/remove", {})],
    "school_accounts.set_hours": [("POST", "/school-accounts/{b.account}/hours", {"schedule_id": "0"})],
    "school_accounts.retire": [("POST", "/school-accounts/{b.account}/retire", {"reason": "gone"})],
    "posts.show": [("GET", "/posts/{b.post}", {})],
    "posts.edit": [("GET", "/posts/{b.post}/edit", {}),
                   ("POST", "/posts/{b.post}/edit", {"account_id": "{b.account}", "text": "changed"})],
    "posts.withdraw": [("POST", "/posts/{b.post}/withdraw", {})],
    "posts.remove_pupil": [("POST", "/posts/{b.post}/pupils/{b.pupil}/remove", {})],
    "posts.approve": [("POST", "/posts/{b.post}/approve", {"seen": "2026-11-20T10:00:00+00:00"})],
    "posts.refuse": [("POST", "/posts/{b.post}/refuse", {"reason": "no"})],
    "posts.send_back": [("POST", "/posts/{b.post}/return", {"reason": "no"})],
    "posts.take_down": [("POST", "/posts/{b.post}/take_down", {"reason": "done"})],
    "consent.pupil": [("GET", "/consent/pupils/{b.pupil}", {})],
    "consent.record": [("POST", "/consent/pupils/{b.pupil}/record", {"given-change": "given"})],
    "abuse.show": [("GET", "/abuse-log/{b.entry}", {})],
    "abuse.edit": [("GET", "/abuse-log/{b.entry}/edit", {}), ("POST", "/abuse-log/{b.entry}/edit", ENTRY),
                   ("POST", "/abuse-log/{a.entry}/edit", {**ENTRY, "account_id": "{b.account}"})],
    "abuse.new": [("POST", "/abuse-log/new", {**ENTRY, "account_id": "{b.account}"})],
    "abuse.add_follow_up": [("POST", "/abuse-log/{b.entry}/follow-ups", {"due_on": "2026-12-01", "note": "x"}),
                            ("POST", "/abuse-log/{b.entry}/follow-ups", {})],
    "abuse.follow_up_done": [("POST", "/abuse-log/follow-ups/{b.follow_up}/done", {})],
    "abuse.upload_screenshot": [("POST", "/abuse-log/{b.entry}/screenshots", {})],
    "abuse.screenshot": [("GET", "/abuse-log/screenshots/{b.screenshot}", {})],
}
# Another school's id in a form field that a missing id does not answer with 404 (the form says what is wrong): the
# same answer as for a missing id, and nothing changed. {id}: B's id, then one that does not exist.
AS_MISSING: list[tuple[str, str, dict[str, Any]]] = [
    ("site_forms.sign_headteacher", "/site-forms/{a.form}/headteacher",
     {"agree": "y", "schedule_id": "0", "poster_ids": "{id}"}),
]
# Routes without a school's id: what each shows or does is checked by the named test below.
WITHOUT_ID = {
    "concerns.index": "lists", "concerns.person": "person_search", "phrases.index": "lists",
    "phrases.add": "phrases", "phrases.remove": "phrases", "phrases.import_file": "phrases",
    "raise_concern.raised": "lists (a confirmation that shows nothing)", "privacy.index": "lists (a form)",
    "privacy.export": "privacy", "privacy.erase_person": "privacy", "site_forms.index": "lists",
    "site_forms.new": "lists (its choices)", "school_accounts.index": "lists",
    "school_accounts.add_hours": "hours are the trust's: no school's id", "posts.index": "lists",
    "posts.new": "lists (its choices)", "consent.index": "lists", "consent.search": "person_search",
    "consent.class_page": "lists", "consent.record_class": "lists (the class is the school worked in's)",
    "abuse.index": "lists", "review.index": "lists", "review.pack": "lists",
}


@pytest.fixture
def schools(app: Flask) -> tuple[SchoolRows, SchoolRows]:
    with app.extensions["schoolgate_db"].session() as session:
        bravo = ensure_site(session, "bravo")  # it commits: its own transaction
    with app.extensions["schoolgate_db"].session() as session:
        marketing = session.scalar(select(User.id).where(User.email == ACCOUNTS["marketing"][0]))
        assert marketing is not None
        a = make_school(session, 1, "Alpha", marketing)
        b = make_school(session, bravo, "Bravo", marketing)
    return a, b


def everything(app: Flask) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table (the audit log and the accounts aside: signing in and reading write to them)."""
    with app.extensions["schoolgate_db"].session(read_only=True) as session:
        tables = [t.name for t in Base.metadata.sorted_tables if t.name not in ("audit_log", "users")]
        return {name: sorted(tuple(map(repr, row)) for row in session.execute(text(f'SELECT * FROM "{name}"')))
                for name in tables}


def allowed(app: Flask, endpoint: str, who: str) -> bool:
    roles: frozenset[str] = app.view_functions[endpoint].allowed_roles  # type: ignore[attr-defined]
    held = set(ACCOUNTS[who][2])
    if "trust_admin" in held:
        held |= set(TRUST_ADMIN_POWERS)
    return bool(roles & held)


def send(client: FlaskClient, method: str, path: str, data: dict[str, Any]) -> int:
    if method == "GET":
        return client.get(path).status_code
    return client.post(path, data={**data, "csrf_token": csrf_token(client, "/password")}).status_code


def filled(template: str, a: SchoolRows, b: SchoolRows) -> str:
    return template.format(a=a, b=b)


def test_the_walk_covers_every_route_of_these_blueprints(app: Flask) -> None:
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules() if rule.endpoint.split(".")[0] in BLUEPRINTS}
    assert endpoints == set(BY_ID) | set(WITHOUT_ID)
    assert not set(BY_ID) & set(WITHOUT_ID)


@pytest.mark.parametrize("who", ROLES_OF_A)
def test_another_schools_ids_answer_404_and_change_nothing(app: Flask, schools: tuple[SchoolRows, SchoolRows],
                                                           who: str) -> None:
    a, b = schools
    client = sign_in(app.test_client(), who)
    before = everything(app)
    for endpoint, calls in BY_ID.items():
        for method, path, data in calls:
            form = {key: filled(str(value), a, b) for key, value in data.items()}
            code = send(client, method, filled(path, a, b), form)
            assert code == (404 if allowed(app, endpoint, who) else 403), (who, endpoint, method, path, code)
    for endpoint, path, data in AS_MISSING:
        answers = []
        for ident in (str(b.staff), "999999"):
            form = {key: filled(str(value).replace("{id}", ident), a, b) for key, value in data.items()}
            answers.append(send(client, "POST", filled(path, a, b), form))
        assert answers[0] == answers[1], (who, endpoint, answers)
        assert answers[0] in (302, 403, 404), (who, endpoint, answers)
    assert everything(app) == before


def test_a_trust_admin_reaches_either_schools_rows(app: Flask, schools: tuple[SchoolRows, SchoolRows]) -> None:
    """The same addresses are there for whoever sees school B: the 404s above are the scoping, not a bad path."""
    a, b = schools
    client = sign_in(app.test_client(), "trust_admin")
    for path in ("/concerns/{b.concern}", "/site-forms/{b.form}", "/school-accounts/{b.account}", "/posts/{b.post}",
                 "/consent/pupils/{b.pupil}", "/abuse-log/{b.entry}", "/abuse-log/screenshots/{b.screenshot}",
                 "/concerns/{a.concern}", "/abuse-log/{a.entry}"):
        assert client.get(filled(path, a, b)).status_code == 200, path


def page(client: FlaskClient, path: str, data: dict[str, str] | None = None) -> str:
    if data is None:
        response = client.get(path)
    else:
        response = client.post(path, data={**data, "csrf_token": csrf_token(client, "/password")})
    assert response.status_code == 200, (path, response.status_code)
    return response.get_data(as_text=True)


LISTS: dict[str, list[str]] = {  # who reads it -> the list pages
    "dsl": ["/concerns/?state=all", "/safeguarding/phrases/", "/concerns/raise"],
    "headteacher": ["/concerns/?state=all", "/site-forms/", "/school-accounts/", "/posts/", "/consent/",
                    "/consent/class?name=B9", "/abuse-log/", "/review/", "/review/pack", "/site-forms/new",
                    "/posts/new", "/abuse-log/new"],
    "office_manager": ["/posts/", "/consent/"],
    "marketing": ["/site-forms/", "/school-accounts/"],
    "staff": ["/school-accounts/", "/concerns/raise"],
}


@pytest.mark.parametrize("who", sorted(LISTS))
def test_school_as_lists_never_show_school_bs_rows(app: Flask, schools: tuple[SchoolRows, SchoolRows],
                                                    who: str) -> None:
    a, b = schools
    client = sign_in(app.test_client(), who)
    for path in LISTS[who]:
        shown = page(client, path)
        for name in b.names + ["bravo secret phrase", "Bravo Staff"]:
            assert name not in shown, (who, path, name)
        assert "<th>School</th>" not in shown, path  # one school seen: no School column


def test_a_trust_admin_sees_both_schools_with_a_school_column(app: Flask,
                                                               schools: tuple[SchoolRows, SchoolRows]) -> None:
    a, b = schools
    client = sign_in(app.test_client(), "trust_admin")
    wanted = {"/concerns/?state=all": ("Alpha Pupil", "Bravo Pupil"),
              "/site-forms/": ("Alpha Form Site", "Bravo Form Site"),
              "/school-accounts/": ("Alpha Tigers", "Bravo Tigers"),
              "/abuse-log/": (f'href="/abuse-log/{a.entry}"', f'href="/abuse-log/{b.entry}"')}
    for path, (of_a, of_b) in wanted.items():
        shown = page(client, path)
        assert of_a in shown and of_b in shown, path
        assert "<th>School</th>" in shown and "<td>bravo</td>" in shown, path
    found = page(client, "/consent/search", {"q": "Pupil"})
    assert "Alpha Pupil" in found and "Bravo Pupil" in found


def test_a_search_by_name_finds_only_the_viewers_schools(app: Flask, schools: tuple[SchoolRows, SchoolRows]) -> None:
    a, b = schools
    head = sign_in(app.test_client(), "headteacher")
    assert "Alpha Pupil" in page(head, "/consent/search", {"q": "Pupil"})
    assert "Bravo Pupil" not in page(head, "/consent/search", {"q": "Pupil"})
    dsl = sign_in(app.test_client(), "dsl")
    shown = page(dsl, "/concerns/person", {"person": b.person})
    assert f"#{b.concern}" not in shown and "Bravo Laptop" not in shown
    assert f"#{a.concern}" in page(dsl, "/concerns/person", {"person": a.person})


def test_false_positives_count_only_the_viewers_schools(app: Flask, schools: tuple[SchoolRows, SchoolRows]) -> None:
    dsl = sign_in(app.test_client(), "dsl")
    shown = page(dsl, "/safeguarding/phrases/")
    assert "alpha secret phrase" in shown and "bravo secret phrase" not in shown
    trust = page(sign_in(app.test_client(), "trust_admin"), "/safeguarding/phrases/")
    assert "alpha secret phrase" in trust and "bravo secret phrase" in trust


def test_the_trusts_phrase_list_is_changed_only_by_who_sees_every_school(
        app: Flask, schools: tuple[SchoolRows, SchoolRows]) -> None:
    line = {"phrase": "hidden words", "kind": "bullying_abuse", "severity": "low", "why": "a test"}
    dsl = sign_in(app.test_client(), "dsl")
    before = everything(app)
    assert send(dsl, "POST", "/safeguarding/phrases/add", line) == 403
    assert send(dsl, "POST", "/safeguarding/phrases/1/remove", {}) == 403
    assert send(dsl, "POST", "/safeguarding/phrases/import", {}) == 403
    assert everything(app) == before
    assert "Add a phrase" not in page(dsl, "/safeguarding/phrases/")
    trust = sign_in(app.test_client(), "trust_admin")
    assert send(trust, "POST", "/safeguarding/phrases/add", line) == 302
    assert "hidden words" in page(trust, "/safeguarding/phrases/")


def test_personal_data_of_another_school_is_neither_exported_nor_erased(
        app: Flask, schools: tuple[SchoolRows, SchoolRows]) -> None:
    a, b = schools
    head = sign_in(app.test_client(), "headteacher")
    before = everything(app)
    assert send(head, "POST", "/privacy/export", {"export-person": b.person, "export-format": "json"}) == 404
    erase = {"erase-person": b.person, "erase-confirm": b.person}
    assert send(head, "POST", "/privacy/erase", erase) == 404
    assert everything(app) == before
    exported = head.post("/privacy/export", data={"export-person": a.person, "export-format": "json",
                                                  "csrf_token": csrf_token(head, "/password")})
    assert exported.status_code == 200
    body = exported.get_data(as_text=True)
    assert "Alpha Laptop" in body and "Bravo" not in body
    trust = sign_in(app.test_client(), "trust_admin")
    assert send(trust, "POST", "/privacy/export", {"export-person": b.person, "export-format": "json"}) == 200


def test_a_person_named_alike_in_two_schools_is_erased_in_the_viewers_school_only(
        app: Flask, schools: tuple[SchoolRows, SchoolRows]) -> None:
    a, b = schools
    with app.extensions["schoolgate_db"].session() as session:  # B's pupil is called as A's pupil
        for model, column in ((Base.metadata.tables["pupils"], "name"), (Base.metadata.tables["devices"], "person"),
                              (Base.metadata.tables["concerns"], "person")):
            session.execute(model.update().where(model.c.site_id == b.site_id).values({column: a.person}))
    head = sign_in(app.test_client(), "headteacher")
    erase = {"erase-person": a.person, "erase-confirm": a.person}
    assert send(head, "POST", "/privacy/erase", erase) == 302
    with app.extensions["schoolgate_db"].session(read_only=True) as session:
        names = dict(session.execute(text("SELECT site_id, name FROM pupils")).all())
        people = dict(session.execute(text("SELECT site_id, person FROM devices WHERE person IS NOT NULL")).all())
    assert a.site_id not in names and names[b.site_id] == a.person
    assert a.site_id not in people and people[b.site_id] == a.person


RAISE: Callable[[SchoolRows], dict[str, str]] = lambda rows: {  # noqa: E731
    "subject": "pupil", "device_id": str(rows.device), "category": "bullying_abuse", "severity": "low",
    "what": "told me"}


def test_rows_made_on_the_web_go_to_the_school_worked_in(app: Flask, schools: tuple[SchoolRows, SchoolRows]) -> None:
    a, b = schools
    trust = sign_in(app.test_client(), "trust_admin")
    assert send(trust, "POST", "/school", {"site_id": str(b.site_id), "next": "/"}) == 302
    assert send(trust, "POST", "/concerns/raise", RAISE(b)) == 302
    assert send(trust, "POST", "/concerns/raise", RAISE(a)) == 404  # A's device is not of the school worked in
    assert send(trust, "POST", "/abuse-log/new", {**ENTRY, "account_id": str(b.account)}) == 302
    assert send(trust, "POST", "/review/", REVIEW) == 302
    with app.extensions["schoolgate_db"].session(read_only=True) as session:
        made = session.execute(text("SELECT site_id, device_id FROM concerns WHERE source = 'manual'")).all()
        entries = session.execute(text("SELECT site_id FROM abuse_log WHERE posted_text = 'x'")).scalars().all()
        reviews = session.execute(text("SELECT site_id FROM policy_reviews WHERE notes = 'x'")).scalars().all()
        audited = session.execute(text("SELECT site_id FROM audit_log WHERE action IN "
                                       "('concern.raise', 'abuse.create', 'policy_review.record')")).scalars().all()
    assert [tuple(r) for r in made] == [(b.site_id, b.device)]
    assert entries == [b.site_id] and reviews == [b.site_id]
    assert sorted(audited) == [b.site_id] * 3
    assert "Bravo review notes" in page(trust, "/review/") and "Alpha review notes" not in page(trust, "/review/")


def test_every_role_is_walked() -> None:
    assert set(ROLES_OF_A) >= set(ROLES) - {"trust_admin"}
