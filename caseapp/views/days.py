"""My day: what is overdue, due today and due this week across the person's cases."""
from flask import Blueprint, render_template
from flask_login import current_user, login_required

from caseapp.models import utcnow
from caseapp.services.deadlines import days

bp = Blueprint("days", __name__)


@bp.get("/my-day")
@login_required
def my_day():
    now = utcnow()
    return render_template("days/my_day.html", day=days.my_day(current_user, now), now=now)
