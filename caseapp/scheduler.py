"""The scheduler: fixed-id APScheduler jobs, the dispatch pass every minute and, when
INBOUND_IMAP_URL is set, the inbound fetch every INBOUND_FETCH_SECONDS.

Its in-memory job store holds nothing that matters: every reminder is a database row,
and the job only asks the database what is due. Coalescing, one instance at a time and
a generous misfire grace mean a sleeping laptop or a slow pass runs the job once, late,
rather than several times. Several schedulers (several machines) may run both jobs: the
dispatch pass claims its rows, and a message two fetches take at once is filed once
(services/inbound/imap.py).
"""
from __future__ import annotations

import logging
from datetime import datetime, timezone

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from flask import Flask

from caseapp.core.transaction import abandon
from caseapp.extensions import db
from caseapp.services.appeals import dispatch
from caseapp.services.inbound import imap

log = logging.getLogger(__name__)

JOB_ID = "caseapp-dispatch"
INTERVAL_SECONDS = 60
FETCH_JOB_ID = "caseapp-inbound-fetch"


def dispatch_job(app: Flask) -> None:
    with app.app_context():
        try:
            report = dispatch.run_pass(datetime.now(timezone.utc))
        except Exception:  # keep the scheduler alive; the next minute tries again
            abandon()  # what the failed batch left in the session
            log.exception("dispatch pass failed")
            return
        finally:
            db.session.remove()
        if report.reminders_due or report.deadline_reminders_due or report.sent or report.failed or report.retried or report.held:
            log.info("dispatch pass: %s", report)


def fetch_job(app: Flask) -> None:
    with app.app_context():
        try:
            report = imap.fetch()
        except imap.FetchError as error:  # the server or the database is away: the next run tries again
            abandon()
            log.warning("inbound fetch: %s", error)
            return
        except Exception:  # keep the scheduler alive
            abandon()
            log.exception("inbound fetch failed")
            return
        finally:
            db.session.remove()
        if report.fetched or report.left:
            log.info("inbound fetch: %s", report)


def fetch_seconds(app: Flask) -> int | None:
    """How often the scheduler fetches mail, or None when there is no mailbox to fetch from."""
    if not (app.config.get("INBOUND_IMAP_URL") or "").strip():
        return None
    return max(1, int(app.config.get("INBOUND_FETCH_SECONDS") or 60))


def build(app: Flask, blocking: bool = False):
    cls = BlockingScheduler if blocking else BackgroundScheduler
    scheduler = cls(timezone=timezone.utc, job_defaults={
        "coalesce": True, "max_instances": 1, "misfire_grace_time": 3600})
    scheduler.add_job(dispatch_job, "interval", args=[app], id=JOB_ID, seconds=INTERVAL_SECONDS,
                      next_run_time=datetime.now(timezone.utc), replace_existing=True)
    seconds = fetch_seconds(app)
    if seconds is not None:
        # Its misfire grace is one interval: a fetch missed while asleep is simply the next one.
        scheduler.add_job(fetch_job, "interval", args=[app], id=FETCH_JOB_ID, seconds=seconds,
                          next_run_time=datetime.now(timezone.utc), replace_existing=True,
                          misfire_grace_time=seconds)
    return scheduler
