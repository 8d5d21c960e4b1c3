"""`init`, `check` and `logs`: set the database up, explain a decision, read the access log."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import click

from deploy import snapshot_cache
from deploy.context import AppContext, CommandError, pass_app
from deploy.output import iso_utc, json_lines, london, table
from rules.localtime import LONDON
from rules.policy.decide import decide
from rules.policy.names import InvalidHost, ip_literal, normalize_host
from rules.policy.networks import normalize_ip

if TYPE_CHECKING:
    from rules.policy.snapshot import PolicySnapshot


@click.command()
@click.option("--headteacher", "head_email", metavar="EMAIL", help="Email of the first headteacher account.")
@click.option("--headteacher-name", metavar="NAME", help="Their name.")
@click.option("--ict", "ict_email", metavar="EMAIL", help="Email of the first ICT technician account.")
@click.option("--ict-name", metavar="NAME", help="Their name.")
@click.option("--password-stdin", is_flag=True,
              help="Read the two passwords (headteacher, then ICT technician) from standard input, a line each.")
@pass_app
def init(app, head_email, headteacher_name, ict_email, ict_name, password_stdin) -> None:
    """Create or upgrade the database, seed the built-in lists, create the first accounts."""
    from sqlalchemy import select

    from deploy.site import create_site
    from rules.store import schema  # Alembic and argon2 are slow to import; `check` and `logs` need neither
    from rules.store.models import UserSite
    from rules.workflows.accounts import UserError, create_user

    db = app.database
    before = None
    try:
        before = schema.current_revision(db)
        schema.upgrade(db)
    except Exception as exc:
        raise CommandError(f"cannot create or upgrade the database {db.url}: {str(exc).splitlines()[0]}") from None
    after = schema.current_revision(db)
    change = f"schema {after}" if before == after else f"schema {before or 'empty'} -> {after}"
    click.echo(f"database {db.url}: {change}")
    site_id, added = create_site(app.config, db)
    for line in [*added, *schema.seed(db, site_id=site_id)]:
        click.echo(f"added {line}")
    _web_certificate(app)
    with db.session() as session:  # a new school of a trust gets its own first accounts
        has_accounts = session.scalar(select(UserSite.user_id).where(UserSite.site_id == site_id).limit(1)) is not None
    if has_accounts:
        return
    passwords = sys.stdin.read().splitlines() if password_stdin else []
    wanted = [("headteacher", head_email, headteacher_name), ("ict", ict_email, ict_name)]
    interactive = sys.stdin.isatty() and not password_stdin
    if not interactive and not any(email for _, email, _ in wanted):
        click.echo("no accounts yet: create them with `schoolgate users add EMAIL --name NAME --role headteacher` "
                   "(and --role ict)")
        return
    for index, (role, email, name) in enumerate(wanted):
        label = "headteacher" if role == "headteacher" else "ICT technician"
        if not email and interactive:
            email = click.prompt(f"Email of the first {label} account")
        if not email:
            continue
        if not name:
            name = click.prompt(f"Name of the {label}") if interactive else email.split("@")[0]
        password = passwords[index] if index < len(passwords) else None
        if password is None and interactive:
            password = click.prompt(f"Password for {email}", hide_input=True, confirmation_prompt=True)
        try:
            with db.session() as session:
                create_user(session, email=email, name=name, roles=[role], password=password, actor=app.actor,
                            site_ids=(site_id,))
        except UserError as exc:
            raise CommandError(str(exc)) from None
        click.echo(f"created the {label} account {email.lower()}")


def _web_certificate(app: AppContext) -> None:
    """Keep or make the admin web's HTTPS certificate, and say which (init's step for `[web]`)."""
    from deploy.root import ensure_web_certificate
    from deploy.web_certificate import CertificateError

    web = app.config.web
    if web.tls_cert:
        click.echo(f"web certificate: {web.tls_cert} ([web] tls_cert), none made")
        return
    try:
        outcome = ensure_web_certificate(app.config)
    except (OSError, ValueError, CertificateError) as exc:
        raise CommandError(f"cannot make the admin web's certificate: {exc}") from None
    if outcome is None:
        click.echo(f"web certificate: none needed ({web.public_url} is plain HTTP, [web] allow_http)")
        return
    done = "made" if outcome.action == "made" else "kept"
    why = f" ({outcome.why})" if outcome.action == "made" else ""
    click.echo(f"web certificate {outcome.files.cert}: {done}{why}, for {outcome.host}, signed by the school's CA, "
               f"valid until {outcome.not_after:%Y-%m-%d}")


@click.command()
@click.argument("host")
@click.option("--client", "client_ip", default="127.0.0.1", show_default=True, help="The asking device's address.")
@click.option("--url", help="The full URL, for URL rules (as the proxy would see it).")
@click.option("--at", "at_text", metavar="ISO-TIME", help="Decide as at this time (default: now).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@pass_app
def check(app, host, client_ip, url, at_text, as_json) -> None:
    """The decision for HOST and the rule behind it, explained."""
    try:
        name = ip_literal(host) or normalize_host(host)  # 2130706433 is 127.0.0.1, as the proxy sees it
    except InvalidHost as exc:
        raise CommandError(f"invalid host: {exc}") from None
    try:
        ip = normalize_ip(client_ip)
    except ValueError:
        raise CommandError(f"not an IP address: {client_ip!r}") from None
    at = _parse_time(at_text) if at_text else datetime.now(UTC)
    snapshot = current_snapshot(app)
    client = snapshot.identify(ip)
    decision = decide(snapshot, client, name, url, at)
    if as_json:
        json_lines([{"host": name, **decision.as_dict(), "client": ip,
                     "device": client.device.name if client.device else None, "group": client.group,
                     "policy_version": snapshot.version}])
        return
    click.echo(f"{decision.action.value:<6} {name}")
    click.echo(f"  why:      {decision.explain()} ({decision.reason.value})")
    click.echo(f"  category: {decision.category or '-'}")
    click.echo(f"  rule:     {decision.rule or '-'}")
    click.echo(f"  client:   {client.label}")
    click.echo(f"  policy:   version {snapshot.version}, at {london(at)} Europe/London")


def current_snapshot(app: AppContext) -> PolicySnapshot:
    """The configured school's policy in force: the one `check` kept, when the database says it is still current
    (SQLite: read with the standard library, so an answer needs no SQLAlchemy), else compiled now and kept."""
    config = app.config
    allowlist = tuple(config.ban_allowlist)
    school = config.site.name
    version = snapshot_cache.sqlite_policy_version(config.database.url)
    if version is not None:
        kept = snapshot_cache.load(config.state_dir, (version, allowlist, school))
        if kept is not None:
            return kept
    from rules.policy.compile import Compiler

    compiler = Compiler(app.ready_database(), allowlist, keep_entries=True, site_id=app.site_id)
    snapshot = compiler.compile()
    snapshot_cache.save(config.state_dir, (snapshot.version, allowlist, school), snapshot, compiler.entries)
    return snapshot


@click.command()
@click.option("--client", "client_ip", help="Only this device's address.")
@click.option("--since", "since_text", metavar="ISO-TIME", help="Only events at or after this time.")
@click.option("--limit", default=1000, show_default=True, help="At most this many events (newest last).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object a line.")
@pass_app
def logs(app, client_ip, since_text, limit, as_json) -> None:
    """The access log: what each device asked for and what was decided.

    Only this gateway's school's events ([site] name): another school's devices may share its addresses."""
    from sqlalchemy import select

    from rules.store.audit import audit
    from rules.store.models import AccessEvent

    db = app.ready_database()
    query = (select(AccessEvent).where(AccessEvent.site_id == app.site_id)
             .order_by(AccessEvent.ts.desc(), AccessEvent.id.desc()).limit(limit))
    if client_ip:
        try:
            query = query.where(AccessEvent.client_ip == normalize_ip(client_ip))
        except ValueError:
            raise CommandError(f"not an IP address: {client_ip!r}") from None
    if since_text:
        query = query.where(AccessEvent.ts >= _parse_time(since_text))
    with db.session() as session:
        events = list(reversed(session.scalars(query).all()))
        # Every read of the access log is recorded, as on the web: the whole log (every device) as much as one.
        audit(session, app.actor, "access_log.view", f"client {client_ip}" if client_ip else "access log",
              after={"since": since_text, "events": len(events)}, site_id=app.site_id)
    if as_json:
        json_lines({"ts": iso_utc(e.ts), "client_ip": e.client_ip, "device": e.device, "source": e.source,
                    "host": e.host, "url": e.url, "action": e.action, "category": e.category, "rule": e.rule,
                    "qtype": e.qtype, "reason": e.reason, "search_term": e.search_term, "signal": e.signal,
                    "mac": e.mac, "transport": e.transport, "port": e.port}
                   for e in events)
        return
    table(("time (London)", "client", "device", "source", "action", "host", "category", "rule"),
          [(london(e.ts), e.client_ip, e.device, e.source, e.action, e.url or e.host, e.category, e.rule)
           for e in events])


def _parse_time(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise CommandError(f"not an ISO time: {text!r} (e.g. 2026-11-25T09:00:00Z)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=LONDON)  # a time a person typed is London time
    return moment.astimezone(UTC)


COMMANDS = [init, check, logs]
