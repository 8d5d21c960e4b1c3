"""`users add`, `devices add|list`, `bans list`: the registry from the technician's shell."""

from __future__ import annotations

import sys

import click
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from deploy.bindings import sync_gateway_bindings
from deploy.context import CommandError, pass_app
from deploy.output import iso_utc, json_lines, london, table
from rules.devices.registry import DeviceError, register_device
from rules.devices.sync import read_sightings, sync_devices
from rules.monitoring.bans import open_sessions
from rules.monitoring.states import CURRENT_BAN_STATES
from rules.store.audit import audit
from rules.store.models import Ban, Device, SupervisedSession
from rules.workflows.accounts import ROLES, UserError, create_user


@click.group()
def users() -> None:
    """Staff accounts for the admin web."""


@users.command("add")
@click.argument("email")
@click.option("--name", required=True, help="The person's name, as shown on forms.")
@click.option("--role", "roles", multiple=True, required=True, type=click.Choice(ROLES),
              help="A role (repeat for several).")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of standard input.")
@pass_app
def users_add(app, email: str, name: str, roles: tuple[str, ...], password_stdin: bool) -> None:
    """Create an account (never prints the password)."""
    db = app.ready_database()
    password = None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif sys.stdin.isatty():
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        with db.session() as session:
            user = create_user(session, email=email, name=name, roles=list(roles), password=password, actor=app.actor,
                               site_ids=(app.site_id,))
    except UserError as exc:
        raise CommandError(str(exc)) from None
    note = "" if password else " (no password yet: it cannot sign in until one is set)"
    click.echo(f"created {user.email} ({user.roles}){note}")


@click.group()
def devices() -> None:
    """The device registry."""


@devices.command("add")
@click.option("--ip", required=True, help="The device's address.")
@click.option("--mac", help="Its MAC address (keeps its identity when the address changes).")
@click.option("--name", required=True, help="A name the staff recognise, e.g. 'Class 3 iPad 07'.")
@click.option("--group", required=True, help="pupils, staff, guests or another group.")
@click.option("--person", help="The person it is assigned to (a ban follows the person).")
@pass_app
def devices_add(app, ip: str, mac: str | None, name: str, group: str, person: str | None) -> None:
    """Register a device, or update the one with this MAC or address."""
    db = app.ready_database()
    try:
        with db.session() as session:
            change = register_device(session, ip=ip, mac=mac, name=name, group=group, person=person, actor=app.actor,
                                     site_id=app.site_id)
            device_id = change.device.id
    except DeviceError as exc:
        raise CommandError(str(exc)) from None
    click.echo(f"{'registered' if change.created else 'updated'} device #{device_id} {name} ({ip}, group {group})")


@devices.command("sync")
@click.option("--leases", "lease_files", multiple=True, type=click.Path(dir_okay=False),
              help="A dnsmasq or Kea lease file (repeat; default: [gateway] lease_files).")
@click.option("--neigh/--no-neigh", default=True, show_default=True,
              help="Also read the kernel's neighbour table for the [gateway] lan_interfaces.")
@pass_app
def devices_sync(app, lease_files: tuple[str, ...], neigh: bool) -> None:
    """Learn devices from DHCP leases and the neighbour table: new MACs become unknown devices."""
    db = app.ready_database()
    config = app.config
    report = read_sightings(lease_files or config.gateway.lease_files, config.gateway.lan_interfaces, neigh)
    with db.session() as session:
        result = sync_devices(session, report.sightings, site_id=app.site_id)
    bindings = sync_gateway_bindings(config.gateway.lan_interfaces, db, report.sightings, site_id=app.site_id)
    if bindings.outcome in ("updated", "unchanged", "failed"):
        click.echo(f"address-to-MAC sets {bindings.outcome}: "
                   + (bindings.why if bindings.outcome == "failed" else f"{bindings.bound} addresses bound"))
    for line in result.discovered:
        click.echo(f"new device: {line}")
    for line in result.moved:
        click.echo(f"moved: {line}")
    for line in result.ignored:
        click.echo(f"ignored (neighbour table): {line}")
    bad = f", {report.malformed} unreadable lines" if report.malformed else ""
    click.echo(f"{result.seen} addresses seen, {len(result.discovered)} new devices, "
               f"{len(result.moved)} moved{bad}")
    for example in report.examples:
        click.echo(f"  unreadable: {example}", err=True)


@devices.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object a line.")
@pass_app
def devices_list(app, as_json: bool) -> None:
    """The registry of this gateway's school, with last-seen address and group."""
    db = app.ready_database()
    with db.session(read_only=True) as session:
        rows = list(session.scalars(select(Device).options(selectinload(Device.addresses), selectinload(Device.group))
                                    .where(Device.site_id == app.site_id).order_by(Device.name, Device.id)))
        data = [{"id": d.id, "name": d.name, "mac": d.mac, "ip": d.last_ip,
                 "addresses": sorted(a.ip for a in d.addresses), "group": d.group.name if d.group else None,
                 "person": d.person, "status": d.status, "last_seen": iso_utc(d.last_seen)} for d in rows]
    if as_json:
        json_lines(data)
        return
    table(("id", "name", "ip", "mac", "group", "person", "status", "last seen (London)"),
          [(d["id"], d["name"], d["ip"], d["mac"], d["group"], d["person"], d["status"],
            london(r.last_seen) if r.last_seen else "-") for d, r in zip(data, rows, strict=True)])


@click.group()
def bans() -> None:
    """Bans from school computing equipment."""


@bans.command("list")
@click.option("--all", "show_all", is_flag=True, help="Include lifted and expired bans.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object a line.")
@pass_app
def bans_list(app, show_all: bool, as_json: bool) -> None:
    """Current bans of this gateway's school: device, person, since, state, evidence, supervised access open now."""
    db = app.ready_database()
    with db.session(read_only=True) as session:
        query = select(Ban).options(selectinload(Ban.device)).where(Ban.site_id == app.site_id).order_by(Ban.created_at)
        if not show_all:
            query = query.where(Ban.state.in_(CURRENT_BAN_STATES))
        rows = list(session.scalars(query))
        supervised = open_sessions(session, [b.id for b in rows])
        data = [{"id": b.id, "device": b.device.name if b.device else None, "device_id": b.device_id,
                 "person": b.person, "since": iso_utc(b.created_at), "state": b.state, "ends": iso_utc(b.ends_at),
                 "reason": b.reason, "evidence": b.evidence,
                 "supervised": _supervision(supervised.get(b.id)),
                 "lifted_at": iso_utc(b.lifted_at), "lifted_by": b.lifted_by, "lift_reason": b.lift_reason,
                 "false_positive": b.false_positive} for b in rows]
    if as_json and rows:
        # --json prints each ban's evidence (sites and times): a view of evidence, audited as the web's is.
        with db.session() as session:
            audit(session, app.actor, "ban.evidence_view", "bans list --json",
                  after={"bans": [b.id for b in rows]}, site_id=app.site_id)
    if as_json:
        json_lines(data)
        return
    if not data:
        click.echo("no current bans")
        return
    table(("id", "device", "person", "since (London)", "state", "ends", "reason"),
          [(d["id"], d["device"], d["person"], london(b.created_at), d["state"],
            london(b.ends_at) if b.ends_at else "-", d["reason"]) for d, b in zip(data, rows, strict=True)])


def _supervision(row: SupervisedSession | None) -> dict[str, object] | None:
    """The supervised session open now, if any: who supervises and until when."""
    if row is None:
        return None
    return {"staff_name": row.staff_name, "since": iso_utc(row.starts_at), "until": iso_utc(row.ends_at)}


COMMANDS = [users, devices, bans]
