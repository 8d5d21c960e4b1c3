"""Wire the jobs of `rules.jobs` to APScheduler 3 (`schoolgate scheduler`).

Every gateway of a trust runs a scheduler against the one database, and the jobs are of two kinds:

- trust-wide jobs act on the whole database (expiry, retention, lists, reports, reminders, the partition
  maker, and the two watcher threads): only the leader runs them (`deploy.leader`: a PostgreSQL advisory
  lock; on SQLite the one scheduler always leads). Their timetable is stored in the database
  (SQLAlchemyJobStore on the same URL), attached only by the leader, so a restart or a failover keeps each
  job's next run time and a job runs once per due time however many schedulers there are;
- per-gateway jobs act on the gateway's own things (devices from its DHCP leases and the address-to-MAC
  sets, the nightly self-test): every scheduler runs them, from a timetable in memory.

A follower asks for the lead every few seconds and takes the stored timetable and the watchers when it gets
it; a leader that loses its lock's connection stops (exit status 3) for the process manager to restart.
The scheduler never runs inside web workers: several gunicorn workers would each run every job.

Stored jobs name `deploy.scheduler:run_job` with the job's name, never a pickled object, so an upgrade
that changes a job's code needs no change to the stored rows.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from apscheduler.jobstores.base import JobLookupError
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from deploy.bindings import sync_gateway_bindings
from deploy.config import Config
from deploy.leader import POLL_SECONDS, Leadership
from deploy.site import resolve_site
from rules.jobs.devices_sync import sync_devices_job
from rules.jobs.expiry import expire
from rules.jobs.lists_refresh import refresh_lists
from rules.jobs.policy_review import send_review_reminders
from rules.jobs.report import weekly_report
from rules.jobs.retention import RetentionPeriods, purge
from rules.jobs.selftest import run_self_test
from rules.localtime import LONDON
from rules.mail import MailSettings, SmtpTls
from rules.monitoring.ban_notice import send_ban_notice
from rules.monitoring.detector import Detector
from rules.monitoring.watcher import Outcome, Watcher
from rules.safeguarding.notify import NotifySettings, send_digest
from rules.safeguarding.watcher import ConcernWatcher
from rules.store.db import Database
from rules.store.partitions import make_ahead

log = logging.getLogger("schoolgate.scheduler")
JOBSTORE_TABLE = "apscheduler_jobs"
TRUST_STORE = "trust"  # the stored timetable of the trust-wide jobs (rows do not record the alias)
GATEWAY_STORE = "gateway"
LOST_LEAD_STATUS = 3


@dataclass(frozen=True)
class JobSpec:
    description: str
    trigger: Callable[[], Any]
    run: Callable[[Config, Database], object]
    per_gateway: bool = False  # True: every gateway runs it for its own school; False: the leader only


def mail_settings(config: Config) -> MailSettings:
    smtp = config.smtp
    return MailSettings(smtp.host, smtp.port, smtp.from_address, smtp.to, SmtpTls(smtp.tls))


def notify_settings(config: Config) -> NotifySettings:
    """Where safeguarding mail goes out, where its links point, and the chair of governors' address."""
    return NotifySettings(mail_settings(config), config.web.public_url,
                          config.safeguarding.chair_of_governors_email)


def retention_periods(config: Config) -> RetentionPeriods:
    retention = config.retention
    return RetentionPeriods(retention.access_log_days, retention.ban_days, retention.audit_days)


def sync_devices(config: Config, db: Database) -> object:
    """The gateway's school's registry from its leases and neighbour table, then its address-to-MAC sets."""
    lans = config.gateway.lan_interfaces
    site_id = resolve_site(config, db)
    return sync_devices_job(db, config.gateway.lease_files, lans, site_id=site_id,
                            after=lambda report: sync_gateway_bindings(lans, db, report.sightings, site_id=site_id))


JOBS: dict[str, JobSpec] = {
    "devices_sync": JobSpec("learn devices from DHCP leases and the neighbour table; keep the gateway's "
                            "address-to-MAC sets",
                            lambda: IntervalTrigger(seconds=30),
                            lambda c, db: sync_devices(c, db), per_gateway=True),
    "expire": JobSpec("expire exceptions, supervised sessions and bans", lambda: IntervalTrigger(seconds=60),
                      lambda c, db: expire(db)),
    "partitions": JobSpec("make the access-event day partitions a week ahead (PostgreSQL)",
                          lambda: CronTrigger(hour=1, minute=0, timezone=LONDON),
                          lambda c, db: make_ahead(db.engine)),
    # The name predates the other kinds of personal data it now purges; stored timetables name it, so it stays.
    "policy_review": JobSpec("remind the headteacher of the social media policy's review date, 30 days before "
                             "and on the day (once each; a missed day is caught up)",
                             lambda: CronTrigger(hour=7, minute=30, timezone=LONDON),
                             lambda c, db: send_review_reminders(db, mail_settings(c), c.web.public_url)),
    "purge_events": JobSpec("delete personal data past its [retention] period: access events, closed bans, "
                            "audit entries, report files",
                            lambda: CronTrigger(hour=3, minute=30, timezone=LONDON),
                            lambda c, db: purge(db, retention_periods(c), c.state_dir)),
    "refresh_lists": JobSpec("refresh lists from their files and URLs",
                             lambda: CronTrigger(hour=4, minute=15, timezone=LONDON),
                             lambda c, db: refresh_lists(db)),
    "safeguarding_digest": JobSpec("email the DSL (and the headteacher) the day's medium and low safeguarding "
                                   "concerns", lambda: CronTrigger(hour=16, minute=30, timezone=LONDON),
                                   lambda c, db: send_digest(db, notify_settings(c))),
    "self_test": JobSpec("check locked and social-media categories are blocked for every group",
                         lambda: CronTrigger(hour=2, minute=0, timezone=LONDON),
                         lambda c, db: run_self_test(db, site_id=resolve_site(c, db)), per_gateway=True),
    "weekly_report": JobSpec("the weekly report for the headteacher and the DSL",
                             lambda: CronTrigger(day_of_week="mon", hour=7, minute=0, timezone=LONDON),
                             lambda c, db: weekly_report(db, c.state_dir, mail_settings(c))),
}

_context: tuple[Config, Database] | None = None


def run_job(name: str) -> None:
    """What the stored jobs call: run one job with this process's configuration and database."""
    if _context is None:
        raise RuntimeError("the scheduler's configuration is not set")
    config, db = _context
    log.info("running %s", name)
    try:
        JOBS[name].run(config, db)
    except Exception:
        log.exception("job %s failed", name)


def build_scheduler(config: Config, db: Database, kind: type[BaseScheduler] = BlockingScheduler,
                    lead: bool = True) -> BaseScheduler:
    """A scheduler with the per-gateway jobs in memory and, when it leads, the trust-wide jobs stored in the
    schoolgate database (`take_lead` adds them later to a follower that becomes the leader)."""
    global _context
    _context = (config, db)
    scheduler = kind(
        jobstores={GATEWAY_STORE: MemoryJobStore()},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600},
        timezone=LONDON,
    )
    for name, spec in JOBS.items():
        if spec.per_gateway:
            scheduler.add_job("deploy.scheduler:run_job", trigger=spec.trigger(), args=[name], id=name, name=name,
                              jobstore=GATEWAY_STORE)
    if lead:
        take_lead(scheduler, db)
    return scheduler


def take_lead(scheduler: BaseScheduler, db: Database) -> None:
    """Attach the stored timetable of the trust-wide jobs. A stored job whose trigger is unchanged keeps its next
    run time, so one that fell due while no scheduler led (a failover) runs now, once; the others are
    (re)registered, and per-gateway jobs stored by earlier versions are removed from it."""
    scheduler.add_jobstore(SQLAlchemyJobStore(engine=db.engine, tablename=JOBSTORE_TABLE), TRUST_STORE)
    for name, spec in JOBS.items():
        trigger = spec.trigger()
        if scheduler.running:
            existing = scheduler.get_job(name, TRUST_STORE)
            if spec.per_gateway:
                if existing is not None:
                    try:
                        scheduler.remove_job(name, TRUST_STORE)
                    except JobLookupError:
                        pass
                continue
            if existing is not None and str(existing.trigger) == str(trigger) and tuple(existing.args) == (name,):
                continue
        elif spec.per_gateway:
            continue
        scheduler.add_job("deploy.scheduler:run_job", trigger=trigger, args=[name], id=name, name=name,
                          jobstore=TRUST_STORE, replace_existing=True)


def start_watcher(config: Config, db: Database, stop: threading.Event) -> threading.Thread:
    """The circumvention watcher, in this process's own thread: one per database, like the jobs."""
    mail = mail_settings(config)

    def notify(outcome: Outcome) -> None:
        if outcome.action == "ban" and outcome.ban_id is not None:
            send_ban_notice(db, mail, config.web.public_url, outcome.ban_id)

    watcher = Watcher(db, Detector(window_seconds=config.bans.window_minutes * 60), notify=notify,
                      default_threshold=config.bans.threshold)
    thread = threading.Thread(target=watcher.run, args=(stop,), name="circumvention-watcher", daemon=True)
    thread.start()
    return thread


def start_concern_watcher(config: Config, db: Database, stop: threading.Event) -> threading.Thread:
    """The safeguarding concern watcher, in its own thread: matches every new event about once a second."""
    watcher = ConcernWatcher(db, notify_settings(config), config.safeguarding.chair_of_governors_email)
    thread = threading.Thread(target=watcher.run, args=(stop,), name="concern-watcher", daemon=True)
    thread.start()
    return thread


def run_forever(config: Config, db: Database) -> None:
    """Run until SIGTERM or Ctrl-C: the per-gateway jobs at once, the trust-wide jobs and the watchers while
    this process leads. Exits with LOST_LEAD_STATUS when it loses the lead it held."""
    scheduler = build_scheduler(config, db, BackgroundScheduler, lead=False)
    leadership = Leadership(db.engine)
    stop = threading.Event()
    watcher_stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        log.info("stopping (signal %d)", signum)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    scheduler.start()
    log.info("scheduler started with %d jobs (%s); the circumvention watcher and the concern watcher run on the "
             "leader", len(JOBS), ", ".join(JOBS))
    lost = following = leading = False
    try:
        while not stop.is_set():
            if not leading:
                if leadership.acquire():
                    leading = True
                    log.info("leading: running the trust-wide jobs and the watchers")
                    take_lead(scheduler, db)
                    _make_partitions(db)
                    start_watcher(config, db, watcher_stop)
                    start_concern_watcher(config, db, watcher_stop)
                elif not following:
                    following = True
                    log.info("following: another scheduler leads; running this gateway's jobs only")
            elif not leadership.held():
                log.error("lost the lead: stopping so that only the new leader runs the trust-wide jobs")
                lost = True
                break
            stop.wait(POLL_SECONDS)
    finally:
        watcher_stop.set()
        scheduler.shutdown(wait=not lost)
        leadership.release()
    if lost:
        sys.exit(LOST_LEAD_STATUS)


def _make_partitions(db: Database) -> None:
    """The partition maker's work on taking the lead, so a new database or a long outage never waits a night."""
    try:
        made = make_ahead(db.engine)
    except Exception:
        log.exception("cannot make access-event partitions")
        return
    if made:
        log.info("made access-event partitions %s", ", ".join(made))
