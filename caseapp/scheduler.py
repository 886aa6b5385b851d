"""The reminder scheduler: one fixed-id APScheduler job that runs the dispatch pass.

Its in-memory job store holds nothing that matters: every reminder is a database row,
and the job only asks the database what is due. Coalescing, one instance at a time and
a generous misfire grace mean a sleeping laptop or a slow pass runs the job once, late,
rather than several times.
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

log = logging.getLogger(__name__)

JOB_ID = "caseapp-dispatch"
INTERVAL_SECONDS = 60


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


def build(app: Flask, blocking: bool = False):
    cls = BlockingScheduler if blocking else BackgroundScheduler
    scheduler = cls(timezone=timezone.utc, job_defaults={
        "coalesce": True, "max_instances": 1, "misfire_grace_time": 3600})
    scheduler.add_job(dispatch_job, "interval", args=[app], id=JOB_ID, seconds=INTERVAL_SECONDS,
                      next_run_time=datetime.now(timezone.utc), replace_existing=True)
    return scheduler
