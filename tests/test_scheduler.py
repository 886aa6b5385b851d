from datetime import datetime, timedelta, timezone

from caseapp import scheduler
from caseapp.extensions import db
from caseapp.models import Reminder
from caseapp.services.appeals import submissions


def test_the_scheduler_holds_one_coalescing_job(app):
    sched = scheduler.build(app)
    sched.start(paused=True)  # job defaults apply once the scheduler starts
    (job,) = sched.get_jobs()
    sched.shutdown(wait=False)
    assert job.id == scheduler.JOB_ID
    assert job.coalesce is True and job.max_instances == 1 and job.misfire_grace_time >= 600
    assert job.trigger.interval == timedelta(seconds=60)


def test_the_job_asks_the_database_what_is_due(app, world, smtp_server):
    submissions.record_submission(world.consultant_a, world.case_a.id,
                                  {"submitted_at": datetime.now(timezone.utc) - timedelta(hours=50)})
    scheduler.dispatch_job(app)
    scheduler.dispatch_job(app)  # a second run finds nothing new
    assert len(smtp_server.mailbox.messages) == 1
    assert db.session.scalar(db.select(Reminder.status).where(Reminder.sequence == 1)) == "sent"


def test_a_failing_pass_does_not_kill_the_job(app, world, monkeypatch):
    from caseapp.services.appeals import dispatch

    def broken(now):
        raise RuntimeError("database went away")

    monkeypatch.setattr(dispatch, "run_pass", broken)
    scheduler.dispatch_job(app)  # logs and returns; the next minute tries again
