"""The board: the case list as one column per status, and moving a card along the workflow.

It takes the case list's filters (views/helpers.filters_from_args; "my cases" unless told)
and shows, per status, the count and the first CARDS_PER_COLUMN cases in the list's sort,
with a link to the list for the rest: a column never loads all its cases, so the page costs
the same statements at 10 cases as at 100,000. A move is a POST of the card's own form
(a select and a button, so it works by keyboard and without JavaScript; static/board.js
sends the same form when a card is dropped on a column) to services/appeals/workflow,
which refuses with its reason or moves the case and writes the timeline.
"""
from __future__ import annotations

from dataclasses import replace

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from caseapp.core.errors import Conflict, ValidationFailed
from caseapp.models import REASONS, STATUSES
from caseapp.services.appeals import workflow
from caseapp.services.cases import clients, records
from caseapp.services.cases.records import SORTS, CaseFilters
from caseapp.views.helpers import filters_from_args

bp = Blueprint("board", __name__, url_prefix="/board")
# A column is for a glance: past this many cards the list (linked below the column) is the
# better tool, and seven full columns stay a page of about 300 kB.
CARDS_PER_COLUMN = 25
CLIENT_LIST_LIMIT = 200  # as the list's: more clients and the filter would outweigh the page
# Moves that end or deny a case are asked about first: by the browser (static/confirm-submit.js,
# from the option's data-confirm), or without JavaScript by a page (board/confirm.html).
CONFIRM_MOVES = {
    "reinstated": "Mark “{title}” as Reinstated? The case is closed as won and its follow-ups stop.",
    "denied": "Mark “{title}” as Denied? Its follow-ups stop.",
    "closed": "Close “{title}”? Its follow-ups stop and its deadlines end.",
}


def _board_args(f: CaseFilters) -> dict:
    """The filters to come back to (and to send a move with): the list's, without paging."""
    return f.as_args(page=None)


@bp.get("")
@login_required
def index():
    f = replace(filters_from_args(request.args), page=1, after="", before="")
    shown = (f.status,) if f.status else STATUSES
    columns = [(s, records.list_cases(current_user, replace(f, status=s), per_page=CARDS_PER_COLUMN).items)
               for s in shown]
    return render_template(
        "board/index.html", filters=f, board_args=_board_args(f), columns=columns,
        counts=records.status_counts(current_user, f), statuses=STATUSES, reasons=REASONS, sorts=SORTS,
        moves={s: workflow.allowed_moves(s) for s in STATUSES}, confirm_moves=CONFIRM_MOVES,
        client_choices=clients.client_choices(current_user, limit=CLIENT_LIST_LIMIT),
        filtered_client_name=clients.get_client(current_user, f.client_id).name if f.client_id else "",
        people=records.assignee_choices(current_user, include_inactive=True),
    )


@bp.post("/cases/<int:case_id>/move")
@login_required
def move(case_id: int):
    f = filters_from_args(request.args)
    back = url_for("board.index", **_board_args(f))
    case = records.get_case(current_user, case_id)  # another agency's case: 404 here
    target, before = request.form.get("status", ""), case.status
    try:
        if target in CONFIRM_MOVES and request.form.get("confirmed") != "yes":
            workflow.check_move(before, target)  # an illegal move is refused, not asked about
            return render_template("board/confirm.html", case=case, target=target, back=back,
                                   question=CONFIRM_MOVES[target].format(title=case.title))
        case = workflow.change_status(current_user, case_id, target)
    except (Conflict, ValidationFailed) as error:  # the workflow's reason, or an unknown status
        reason = " ".join(error.fields.values()) or error.message
        flash(f"“{case.title}” was not moved. {reason}", "danger")
        return redirect(back)  # the top of the board, where the reason shows; the card stayed
    flash(f"Moved “{case.title}” from {workflow.LABELS[before]} to {workflow.LABELS[case.status]}.",
          "success")
    return redirect(f"{back}#case-{case_id}")  # the card, in its new column
