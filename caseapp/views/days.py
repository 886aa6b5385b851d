"""My day: what is overdue, due today and due this week across the person's cases, with
one-click actions (met, snooze a reminder, open the case)."""
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from caseapp.core.errors import Conflict
from caseapp.core.paging import BadCursor
from caseapp.core.parsing import page_number, whole_number
from caseapp.models import utcnow
from caseapp.services.appeals import followups
from caseapp.services.deadlines import clocks, days

bp = Blueprint("days", __name__)


@bp.get("/my-day")
@login_required
def my_day():
    now, person, args = utcnow(), request.args.get("person"), request.args
    try:
        day = days.my_day(current_user, now, person=person, after=args.get("after", ""),
                          before=args.get("before", ""), page=page_number(args.get("page")))
    except BadCursor:
        flash("That page link no longer fits this list; here is its first page.", "warning")
        day = days.my_day(current_user, now, person=person)
    return render_template("days/my_day.html", day=day, now=now, snooze_hours=clocks.SNOOZE_HOURS)


def _back():
    return redirect(url_for("days.my_day", person=request.form.get("person") or None), code=303)


@bp.post("/my-day/deadlines/<int:deadline_id>/met")
@login_required
def met(deadline_id: int):
    try:
        deadline = clocks.update(current_user, deadline_id, {"status": "met"}, utcnow())
    except Conflict as error:
        flash(error.message, "warning")
    else:
        flash(f"Marked met: {deadline.title}.", "success")
    return _back()


@bp.post("/my-day/deadlines/<int:deadline_id>/snooze")
@login_required
def snooze(deadline_id: int):
    hours = whole_number(request.form.get("hours")) or 0  # not a number: refused as not a choice
    try:
        followups.snooze_deadline(current_user, deadline_id, hours, utcnow())
    except Conflict as error:
        flash(error.message, "warning")
    else:
        flash(f"Reminder snoozed for {hours} hours.", "success")
    return _back()
