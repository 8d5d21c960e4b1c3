"""Wire the jobs of `rules.jobs` to APScheduler 3 (`schoolgate scheduler`).

The timetable is stored in the database (SQLAlchemyJobStore on the same URL), so a restart keeps each
job's next run time, and one scheduler process per database runs each job once. The scheduler never
runs inside web workers: several gunicorn workers would each run every job.

Stored jobs name `deploy.scheduler:run_job` with the job's name, never a pickled object, so an upgrade
that changes a job's code needs no change to the stored rows.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from deploy.bindings import sync_gateway_bindings
from deploy.config import Config
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

log = logging.getLogger("schoolgate.scheduler")
JOBSTORE_TABLE = "apscheduler_jobs"


@dataclass(frozen=True)
class JobSpec:
    description: str
    trigger: Callable[[], Any]
    run: Callable[[Config, Database], object]


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
                            lambda c, db: sync_devices(c, db)),
    "expire": JobSpec("expire exceptions, supervised sessions and bans", lambda: IntervalTrigger(seconds=60),
                      lambda c, db: expire(db)),
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
                         lambda c, db: run_self_test(db, site_id=resolve_site(c, db))),
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


def build_scheduler(config: Config, db: Database, kind: type[BaseScheduler] = BlockingScheduler) -> BaseScheduler:
    """A scheduler whose job store is the schoolgate database, with every job (re)registered."""
    global _context
    _context = (config, db)
    scheduler = kind(
        jobstores={"default": SQLAlchemyJobStore(engine=db.engine, tablename=JOBSTORE_TABLE)},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600},
        timezone=LONDON,
    )
    for name, spec in JOBS.items():
        scheduler.add_job("deploy.scheduler:run_job", trigger=spec.trigger(), args=[name], id=name, name=name,
                          replace_existing=True)
    return scheduler


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
    """Run until SIGTERM or Ctrl-C."""
    scheduler = build_scheduler(config, db)
    watcher_stop = threading.Event()
    start_watcher(config, db, watcher_stop)
    start_concern_watcher(config, db, watcher_stop)

    def stop(signum: int, _frame: object) -> None:
        log.info("stopping (signal %d)", signum)
        watcher_stop.set()
        scheduler.shutdown(wait=False)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("scheduler started with %d jobs (%s), the circumvention watcher and the concern watcher", len(JOBS),
             ", ".join(JOBS))
    scheduler.start()
