"""Template filters, globals and the helpers the views share: the one module a view module
imports besides the services (views never import each other).

`render_case_page` is the case page for every view that shows it; `send_file_row` and
`export_response` are the file answers the pages and the API give alike.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Callable, Iterator, TypeVar
from zoneinfo import ZoneInfo

from flask import (Flask, Response, flash, g, has_request_context, render_template, request,
                   send_file, session, stream_with_context, url_for)
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from markupsafe import Markup

from caseapp import labels
from caseapp.core import markdown, timezones
from caseapp.core.errors import DomainError, ValidationFailed
from caseapp.core.parsing import page_number, parse_id
from caseapp.core.transaction import abandon, transaction
from caseapp.forms import (AssignForm, DeadlineEditForm, DeadlineForm, EmptyForm, NoteForm, ResponseForm,
                           StatusForm, SubmissionForm, UploadForm)
from caseapp.models import REASONS, STATUSES, Case, Evidence, User, UserSession, utcnow
from caseapp.models.submission import CHANNELS, OUTCOMES
from caseapp.services.accounts import mail_health, sessions
from caseapp.services.appeals import followups, overview, submissions, workflow
from caseapp.services.cases import records
from caseapp.services.cases.records import COUNT_CAP, SORTS, CaseFilters
from caseapp.services.deadlines import clocks, days
from caseapp.services.evidence.filenames import content_disposition


T = TypeVar("T")


def viewer_timezone() -> str:
    if current_user.is_authenticated:
        return current_user.effective_timezone
    return "UTC"


def localtime(moment: datetime | None, with_zone: bool = True) -> str:
    return timezones.format_local(moment, viewer_timezone(), with_zone)


def zoned(moment: datetime | None, tz_name: str) -> str:
    """A moment in a given zone (the portal shows the agency's: a client has no settings)."""
    return timezones.format_local(moment, tz_name)


def viewer_moment(value: datetime | None, field: str = "due_at") -> datetime | None:
    """A naive date and time typed in a form (datetime-local), read in the viewer's own zone,
    as an aware moment. A time the clocks skip (spring forward) does not exist there: refused
    beside `field` rather than silently moved; a repeated autumn hour is its first occurrence."""
    if value is None:
        return None
    zone = ZoneInfo(viewer_timezone())
    moment = value.replace(tzinfo=zone)
    if moment.astimezone(timezone.utc).astimezone(zone).replace(tzinfo=None) != value:
        raise ValidationFailed({field: f"{value:%d %b %Y %H:%M} does not exist in "
                                f"{viewer_timezone()}: the clocks change then."})
    return moment


def typed_local(moment: datetime) -> datetime:
    """A stored moment as the viewer types it: their own zone, no offset, to the minute."""
    return timezones.to_local(moment, viewer_timezone()).replace(tzinfo=None, second=0, microsecond=0)


def localdate(moment: datetime | None) -> str:
    if moment is None:
        return ""
    return timezones.to_local(moment, viewer_timezone()).strftime("%d %b %Y")


def next_deadline(case: Case, now: datetime | None = None) -> clocks.Clock | None:
    """The case's soonest running deadline (any kind) as a Clock, from the row alone."""
    return clocks.next_for_case(case, now or utcnow())


def next_follow_up(case: Case, now: datetime | None = None) -> followups.FollowUp:
    """The case's next follow-up, and whether it is overdue (services/appeals/followups.py)."""
    return followups.next_follow_up(case, now or utcnow())


def capped(count: int) -> str:
    """A count from a capped COUNT: above the cap it reads "1,000+"."""
    return f"{COUNT_CAP:,}+" if count > COUNT_CAP else f"{count:,}"


def label(value: str | None, vocabulary: str) -> str:
    if value is None:
        return ""
    return labels.ALL[vocabulary].get(value, value)


PAGE_SIZES = (25, 50, 100)  # the case list's "Per page" choices


def filters_from_args(args) -> CaseFilters:
    """The case list's filters (the list, its export, the board) from the query string;
    an unknown value is ignored, not an error."""
    assignee = args.get("assignee", "me")
    if assignee not in ("me", "all", "none"):
        person = parse_id(assignee)
        assignee = str(person) if person else "me"
    return CaseFilters(
        status=args.get("status", "") if args.get("status") in STATUSES else "",
        client_id=parse_id(args.get("client_id")),
        assignee=assignee,
        reason=args.get("reason", "") if args.get("reason") in REASONS else "",
        q=args.get("q", "")[:200],
        sort=args.get("sort", "updated") if args.get("sort") in SORTS else "updated",
        page=page_number(args.get("page")),
        per_page=int(args["per_page"]) if args.get("per_page") in {str(n) for n in PAGE_SIZES} else 0,
        after=args.get("after", ""),
        before=args.get("before", ""),
    )


EXISTING_PAGES = {"client": ("clients.detail", "client_id", "Open {}"),
                  "evidence": ("evidence.detail", "evidence_id", "Open {}")}


def existing_link(error: DomainError, name: str = "") -> Markup:
    """A link to what a duplicate refusal found in the way ("Open Harbor Lane"), or nothing."""
    if error.existing is None:
        return Markup("")
    kind, existing_id, _field = error.existing
    endpoint, argument, text = EXISTING_PAGES[kind]
    return Markup(' <a href="{}" class="existing-link">{}</a>').format(
        url_for(endpoint, **{argument: existing_id}), text.format(name or "it"))


def show_errors(form: FlaskForm, error: DomainError, *, keep_form_errors: bool = False) -> None:
    """Put a service's field errors beside the fields of the form, the rest in a flash. With
    `keep_form_errors`, a field the form itself could not read keeps only its own message."""
    unplaced = []
    for name, message in error.fields.items():
        if error.existing is not None and error.existing[2] == name:
            message = Markup("{}").format(message) + existing_link(error, "the existing one")
        if name in form._fields:
            if keep_form_errors and form._fields[name].errors:
                continue
            form._fields[name].errors = list(form._fields[name].errors or []) + [message]
        else:
            unplaced.append(message)
    flash(" ".join([error.message] + unplaced), "danger")


def save_form(form: FlaskForm, action: Callable[[], T],
              place: Callable[[dict[str, str]], list[str]] | None = None) -> T | None:
    """Every mistake of a sent form in one round, each beside its field, every value kept.

    The form reads what it can (a date that is no date); the service checks the rest (required
    fields, an ASIN, an email, a duplicate). When the form could not read a field, the service
    is still asked, in a unit of work thrown away afterwards, so both kinds of error show
    together instead of one after the other. Returns what `action` returned once it saved,
    else None (the form then carries its errors). `place`: a form of rows (RowList) puts the
    service's errors beside its rows itself and returns those it could not place."""
    readable = form.validate()
    try:
        if readable:
            return action()
        with transaction():
            action()
            abandon()  # only its verdict was wanted: the form has mistakes of its own
    except DomainError as error:
        if place is None:
            show_errors(form, error, keep_form_errors=True)
        else:
            flash(" ".join([error.message] + place(error.fields)), "danger")
        return None
    flash("Please correct the highlighted fields.", "danger")
    return None


def sign_in(user: User, remember: bool) -> UserSession:
    """Open a server-side session for this browser and put it in the session cookie (and the
    remember cookie with `remember`)."""
    row = sessions.start(user, remember, request.remote_addr or "", request.user_agent.string)
    login_user(user, remember=remember)
    g.user_session = row
    return row


def current_session() -> UserSession | None:
    """The server-side session of the signed-in browser (set by the user loader)."""
    return g.get("user_session") if current_user.is_authenticated else None


def forget_browser_session() -> None:
    """Empty the session cookie and have the browser drop its remember cookie.

    In this order: Flask-Login's logout_user marks the remember cookie for deletion in the
    session, which clearing the session afterwards would undo.
    """
    session.clear()
    logout_user()
    g.pop("user_session", None)


def timezone_choices(blank: str | None = None) -> list[tuple[str, str]]:
    choices = [(name, name.replace("_", " ")) for name in timezones.all_names()]
    return ([("", blank)] if blank is not None else []) + choices


# ---------------------------------------------------------------- the case page

def people_choices(case: Case | None = None, people: list[User] | None = None) -> list[tuple[str, str]]:
    """Assignee choices: the agency's active people, and a deactivated assignee of `case`."""
    people = records.assignee_choices(current_user) if people is None else people
    choices = [("", "Unassigned")] + [(str(u.id), u.name) for u in people]
    if case is not None and case.assignee is not None and not case.assignee.active:
        choices.append((str(case.assignee.id), f"{case.assignee.name} (deactivated)"))
    return choices


def upload_form(**kwargs) -> UploadForm:
    """The case page's upload form; `prefix` keeps its ids apart from the page's other forms."""
    return UploadForm(prefix="evidence", **kwargs)


def new_submission_form(versions=None) -> SubmissionForm:
    """The case page's submission form; with `versions` None, filled from the request."""
    form = SubmissionForm() if versions is None else SubmissionForm(formdata=None)
    form.channel.choices = channel_choices()
    if versions is not None:
        form_versions(form, versions)
        final = next((v for v in versions if v.is_final), versions[0] if versions else None)
        form.poa_draft_id.data = str(final.id) if final else ""
    return form


def form_versions(form: SubmissionForm, versions) -> None:
    form.poa_draft_id.choices = [("", "No POA version")] + [
        (str(v.id), f"v{v.version}" + (" (final)" if v.is_final else "")) for v in versions]


def channel_choices() -> list[tuple[str, str]]:
    return [(c, submissions.CHANNEL_LABELS[c]) for c in CHANNELS]


def outcome_choices() -> list[tuple]:
    """No default outcome: "Choose…" first; those that end or deny the case carry the
    question static/confirm-submit.js asks before the form is sent."""
    return [("", "Choose…")] + [
        (o, submissions.OUTCOME_LABELS[o],
         {"data-confirm": submissions.CONFIRM_OUTCOMES[o]} if o in submissions.CONFIRM_OUTCOMES else {})
        for o in OUTCOMES]


def response_form(**kwargs) -> ResponseForm:
    form = ResponseForm(**kwargs)
    form.outcome.choices = outcome_choices()
    return form


def typed_errors(form: FlaskForm) -> dict[str, str]:
    """What the form's fields could not even read (a garbled date), by field name; a field
    left empty is not among them (the service says whether it may be)."""
    return {name: str(f.process_errors[0]) for name, f in form._fields.items()
            if f.process_errors and any(f.raw_data or ())}


def place_errors(form: FlaskForm, error: DomainError, typed: dict[str, str] | None = None) -> None:
    """Put every error beside its field (what could not be read first), the rest at the top of
    the form (`form.form_errors`): the form is shown again as typed, with all of them at once."""
    fields = {**error.fields, **(typed or {})}
    for name, message in fields.items():
        if name in form._fields and name != "csrf_token":
            form._fields[name].errors = [message]
        else:
            form.form_errors.append(message)
    if not isinstance(error, ValidationFailed):  # a conflict: the reason, said where it was asked
        form.form_errors.insert(0, error.message)


def new_deadline_form(formdata: bool = True) -> DeadlineForm:
    """The case page's "Add a deadline" form; with `formdata` False, empty."""
    form = DeadlineForm(prefix="deadline", **({} if formdata else {"formdata": None}))
    form.kind.choices = [(k, clocks.KIND_LABELS[k]) for k in clocks.ADDABLE_KINDS]
    return form


def deadline_edit_form(deadline, formdata: bool = True) -> DeadlineEditForm:
    """The form changing one deadline (its own prefix, so its ids are its own); with
    `formdata` False, filled from the deadline, its due time in the viewer's zone."""
    prefix = f"deadline-{deadline.id}"
    if formdata:
        return DeadlineEditForm(prefix=prefix)
    return DeadlineEditForm(formdata=None, prefix=prefix, data={
        "title": deadline.title, "note": deadline.note, "due_at": typed_local(deadline.due_at)})


def render_case_page(case_id: int, *, note_form: NoteForm | None = None,
                     evidence_form: UploadForm | None = None,
                     submission_form: SubmissionForm | None = None, chosen_evidence: set[int] | None = None,
                     reply_form: ResponseForm | None = None, reply_to: int | None = None,
                     deadline_form: DeadlineForm | None = None,
                     deadline_edit: tuple[int, DeadlineEditForm] | None = None,
                     extra: dict | None = None, status: int = 200):
    """The case page (services/appeals/overview.py gathers what it shows), with a form the
    person filled in kept as typed when it is shown again with its errors (the reply form of
    submission `reply_to`; the evidence boxes `chosen_evidence` of the submission form; the
    form of deadline `deadline_edit[0]`; `extra`: a card's own forms, by template name, such as
    the document request card's, views/requests.py)."""
    limit = None if request.args.get("timeline") == "all" else overview.TIMELINE_LIMIT
    view = overview.case_overview(current_user, case_id, utcnow(), timeline_limit=limit)
    case = view.case
    status_form = StatusForm()
    status_form.status.choices = [(s, workflow.LABELS[s]) for s in view.status_moves]
    assign_form = AssignForm()
    assign_form.assignee_id.choices = people_choices(case, view.people)
    assign_form.assignee_id.data = str(case.assignee_id or "")
    if submission_form is not None:
        form_versions(submission_form, view.poa_versions)
    edit_forms = {d.id: deadline_edit_form(d, formdata=False) for d in view.deadlines
                  if d.status == "open" and d.kind != clocks.FOLLOW_UP}
    if deadline_edit is not None:
        edit_forms[deadline_edit[0]] = deadline_edit[1]
    return render_template(
        "cases/detail.html",
        case=case,
        events=view.events,
        more_events=view.more_events,
        notes=view.notes,
        changeable_notes=view.changeable_notes,
        status_form=status_form,
        assign_form=assign_form,
        note_form=note_form or NoteForm(formdata=None),
        poa_versions=view.poa_versions,
        evidence_files=view.evidence_files,
        evidence_form=evidence_form,  # None: the card makes an empty one
        clock=view.clock,
        standing=view.standing,
        pending_reminders=view.pending_reminders,
        submission_list=view.submission_list,
        sent_evidence=view.sent_evidence,
        case_evidence=view.evidence_files,
        responses=view.responses,
        channel_labels=submissions.CHANNEL_LABELS, outcome_labels=submissions.OUTCOME_LABELS,
        submission_form=submission_form or new_submission_form(view.poa_versions),
        chosen_evidence=chosen_evidence,
        response_form=response_form(formdata=None), reply_form=reply_form, reply_to=reply_to,
        submittable=view.submittable, changeable=view.changeable, next_step=view.next_step,
        deadlines=view.deadlines, deadline_clocks=view.deadline_clocks,
        deadline_people=view.deadline_people, deadline_labels=clocks.KIND_LABELS,
        follow_up_kind=clocks.FOLLOW_UP, deadline_form=deadline_form or new_deadline_form(formdata=False),
        deadline_edit_forms=edit_forms, deadline_edit_id=deadline_edit[0] if deadline_edit else None,
        submissions_by_id={s.id: s for s in view.submission_list},
        **(extra or {}),
    ), status


# ---------------------------------------------------------------- files

# Every response carrying a file's bytes: never sniffed into HTML, never run as a page.
SANDBOX_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Cache-Control": "private, no-store",
}


def send_file_row(row: Evidence, stream, as_attachment: bool):
    """The stored bytes with the stored type, sandboxed: shared by the pages and the API."""
    response = send_file(stream, mimetype=row.content_type, etag=row.sha256, conditional=True)
    response.headers["Content-Type"] = row.content_type  # as stored: no charset guessed for it
    # Our own names, not werkzeug's: its ASCII fallback would turn "．．／" into "../".
    response.headers["Content-Disposition"] = content_disposition(row.filename, as_attachment)
    response.headers.update(SANDBOX_HEADERS)
    return response


def export_response(data: bytes | Iterator[bytes], content_type: str, filename: str) -> Response:
    """An export as an attachment, for the page and the API alike; chunks (a case list) are
    sent as they are made, in the request's context, so the whole file is never in memory.

    content_type, not mimetype: Flask would add a second "; charset=utf-8" to text/plain's.
    """
    if not isinstance(data, bytes):
        data = stream_with_context(data)
    return Response(data, content_type=content_type,
                    headers={"Content-Disposition": f'attachment; filename="{filename}"',
                             "X-Content-Type-Options": "nosniff"})


def register(app: Flask) -> None:
    app.add_template_filter(localtime)
    app.add_template_filter(zoned)
    app.add_template_filter(localdate)
    app.add_template_filter(label)
    app.add_template_filter(capped)
    app.add_template_global(COUNT_CAP, "count_cap")
    app.add_template_global(next_follow_up)
    app.add_template_global(next_deadline, "next_deadline_of")
    app.add_template_filter(markdown.render, "markdown")
    app.add_template_filter(records.note_html, "note_html")
    app.add_template_global(labels.STATUS_COLOURS, "status_colours")

    @app.context_processor
    def inject():
        if not has_request_context():  # emails rendered by the scheduler
            return {}
        # formdata=None: only its CSRF field is rendered (sign-out...), so it must not parse the
        # request body, which on a 413 page is the very body that was refused.
        return {"post_form": EmptyForm(formdata=None), "viewer_timezone": viewer_timezone,
                "mail_problem": mail_problem, "overdue_badge": overdue_badge}


def overdue_badge() -> str:
    """The nav's red figure beside "My day": the overdue deadlines the signed-in person answers
    for (services/deadlines/days.overdue_count, one capped indexed count), "" when none."""
    if not current_user.is_authenticated:
        return ""
    count = days.overdue_count(current_user, utcnow())
    return days.count_label(count) if count else ""


def mail_problem():
    """The agency's open mail problem for an admin's page banner (one indexed query, asked
    only by pages that show the banner), else None."""
    if not current_user.is_authenticated:
        return None
    return mail_health.open_problem(current_user)
