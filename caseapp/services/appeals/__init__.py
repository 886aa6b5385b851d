"""Appeals to Amazon: a case's status, what went to Amazon, and the clock on its silence.

- `workflow`: the one table of status moves and `set_status`, the one function that
  changes a case's status (a person, a submission or Amazon's reply); `closed_at` is set
  exactly while a case is reinstated or closed.
- `submissions`: record which POA version went to Amazon, and Amazon's reply.
- `corrections`: correct or withdraw either (its recorder within a day, admins always); the
  case's status, follow-ups and clock are recomputed from what still counts.
- `followups`: the follow-up reminders a submission schedules (48 hours of silence, then
  repeats), snooze, dismiss, and `next_follow_up`, the one definition of a case's next
  follow-up and of "overdue" that every page, mail, feed and the API show; `followup_mail`
  writes their mail and its secret links.
- `digests`: the daily digest of each person's open follow-ups.
- `calendar_feed`: the private iCalendar feed of follow-up deadlines.
- `dispatch`: the scheduler's pass: due reminders into the outbox, then mail delivery.
  It registers the reminder mail's hooks with mail.kinds at start-up.
- `overview`: everything the case page shows, in one place.

Stands on poa, evidence, cases, accounts and mail.
"""
from caseapp.services.appeals import calendar_feed, corrections, digests
from caseapp.services.appeals.dispatch import register_mail_kinds, run_pass
from caseapp.services.appeals.followups import (dismiss, list_reminders, next_follow_up, pending_for_case,
                                               snooze)
from caseapp.services.appeals.overview import case_overview
from caseapp.services.appeals.submissions import get_submission, record_response, record_submission
from caseapp.services.appeals.workflow import change_status, check_move, set_status

__all__ = [
    "calendar_feed", "case_overview", "change_status", "check_move", "corrections", "digests", "dismiss",
    "get_submission", "list_reminders", "next_follow_up", "pending_for_case", "record_response",
    "record_submission", "register_mail_kinds", "run_pass", "set_status", "snooze",
]
