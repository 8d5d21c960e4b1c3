"""A school's concern goes to its own DSL and headteacher: never mailed to another school's."""

from __future__ import annotations

from rules.safeguarding.routing import Who, recipients, route
from rules.safeguarding.states import Route, Subject
from rules.sites import ensure_site
from rules.store.db import Database
from rules.workflows.accounts import create_user


def test_a_schools_concerns_reach_only_its_own_staff(db: Database) -> None:
    with db.session() as session:
        bravo = ensure_site(session, "bravo")
    with db.session() as session:
        for email, roles, site in (("dee.dsl@alpha.test", ["dsl"], 1), ("ann.head@alpha.test", ["headteacher"], 1),
                                   ("bob.dsl@bravo.test", ["dsl"], bravo)):
            create_user(session, email=email, name=email.split("@")[0], roles=roles, password=None, actor="test",
                        site_ids=[site])
    with db.session(read_only=True) as session:
        assert recipients(session, Route.DSL, "", site_id=bravo) == ["bob.dsl@bravo.test"]
        assert recipients(session, Route.DSL, "", site_id=1) == ["dee.dsl@alpha.test"]
        assert sorted(recipients(session, Route.DSL, "")) == ["bob.dsl@bravo.test", "dee.dsl@alpha.test"]
        staff_member = Who(None, None, "Tom Teacher", Subject.STAFF)
        # school B has no headteacher account: a concern about its staff goes to its DSL, not to A's headteacher
        assert route(session, staff_member, "", bravo) == Route.DSL
        assert route(session, staff_member, "", 1) == Route.HEADTEACHER
