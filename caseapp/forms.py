"""Flask-WTF forms: they parse and carry CSRF; the services own the rules."""
import secrets

from flask_wtf import FlaskForm
from flask_wtf.file import MultipleFileField  # only real files: a text field of that name is none
from wtforms import (
    BooleanField,
    DateField,
    DateTimeLocalField,
    EmailField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    IntegerField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, Optional

from caseapp.labels import KIND_LABELS, PRIORITY_LABELS, REASON_LABELS, ROLE_LABELS
from caseapp.models import MARKETPLACES
from caseapp.core import parsing, workdays
from caseapp.services.deadlines import calendar as deadline_calendar
from caseapp.services.deadlines import clocks, presets
from caseapp.services.evidence.files import CATEGORY_LABELS

DATE_HELP = (f"Give a date from {parsing.EARLIEST:%d %b %Y} to {parsing.LATEST:%d %b %Y}, "
             "e.g. 2026-11-29.")


# The fields that read numbers and dates go through core.parsing, like every other
# number and date of a request: ASCII digits, values the columns and the calendar hold.

class WholeNumberField(IntegerField):
    def process_formdata(self, valuelist):
        if not valuelist:
            return
        self.data = parsing.whole_number(valuelist[0], maximum=parsing.MAX_ID)
        if self.data is None:
            raise ValueError("Give a whole number, in the digits 0-9.")


class DayField(DateField):
    def process_formdata(self, valuelist):
        if not valuelist:
            return
        self.data = parsing.parse_date(" ".join(valuelist))
        if self.data is None:
            raise ValueError(DATE_HELP)


class LocalMomentField(DateTimeLocalField):
    """A date and time in the person's own zone, without an offset (datetime-local)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("format", ["%Y-%m-%dT%H:%M"])  # how a stored value is shown to edit
        super().__init__(*args, **kwargs)

    def process_formdata(self, valuelist):
        if not valuelist:
            return
        self.data = parsing.parse_local_moment(" ".join(valuelist))
        if self.data is None:
            raise ValueError("Give a date and time such as 2026-11-29 14:30.")


FORM_KEY = "form_key"


def new_form_key() -> str:
    return secrets.token_urlsafe(18)


class FormKeyField(HiddenField):
    """The one-time key of a rendered form (views/form_keys.py): a second POST with it does
    nothing and shows what the first one led to. Each rendering makes a new key, so a form
    shown again after a refusal, or a second reply form on the same page, is a new form."""

    def _value(self):
        return new_form_key()


class OnceForm(FlaskForm):
    """A form whose POST is done once however often it is sent (a double click)."""

    form_key = FormKeyField(default=new_form_key)


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired()])
    password = PasswordField("Password", validators=[DataRequired()])
    remember = BooleanField("Keep me signed in on this device")


class EmptyForm(OnceForm):
    """A form with only the CSRF token, for POST buttons (sign out, deactivate...), and a
    one-time key for the buttons a double click must not press twice (snooze, withdraw...):
    those render `post_form.form_key` too."""


# The client, case and invitation forms have no "required" validators: a validator that
# stops the form before the service looks would show the service's errors only on the next
# try. The services check every field at once (views/helpers.save_form).

class ClientForm(OnceForm):
    name = StringField("Business name")
    seller_id = StringField("Seller ID / merchant token")
    marketplace = SelectField("Marketplace", choices=[(m, m) for m in MARKETPLACES], default="US")
    contact_name = StringField("Contact name")
    contact_email = StringField("Contact email")
    notes = TextAreaField("Notes")


class CaseForm(OnceForm):
    client_id = SelectField("Client")
    title = StringField("Title")
    kind = SelectField("Kind", choices=list(KIND_LABELS.items()))
    reason = SelectField("Reason", choices=list(REASON_LABELS.items()))
    priority = SelectField("Priority", choices=list(PRIORITY_LABELS.items()), default="normal")
    assignee_id = SelectField("Assignee")
    asins = TextAreaField("ASINs", description="10 letters and digits each; separate with commas, spaces or new lines.")
    opened_at = DayField("Notice date", validators=[Optional()],
                          description="When Amazon's notice arrived. Leave empty for today.")
    amazon_notice = TextAreaField("Amazon's notice", description="Paste the notice text as Amazon sent it.")


class StatusForm(FlaskForm):
    status = SelectField("Move to")


class NoteForm(OnceForm):
    body = TextAreaField("Note", validators=[DataRequired()], description="Markdown is allowed.")


class AssignForm(FlaskForm):
    assignee_id = SelectField("Assignee")


class InvitationForm(OnceForm):
    # No field validators: the service checks every field at once, so all errors show together.
    email = EmailField("Email",
                       description="The invitation goes to this address; its link works once, "
                                   "for 72 hours.")
    name = StringField("Name")
    role = SelectField("Role", choices=list(ROLE_LABELS.items()), default="consultant")
    timezone = SelectField("Time zone", validators=[Optional()])


class AcceptInvitationForm(FlaskForm):
    name = StringField("Your name")
    password = PasswordField("Choose a password",
                             description="At least 10 characters; a few unrelated words work well.")


class UserEditForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired()])
    role = SelectField("Role", choices=list(ROLE_LABELS.items()))
    timezone = SelectField("Time zone", validators=[Optional()])


class AgencySettingsForm(FlaskForm):
    timezone = SelectField("Agency time zone")
    follow_up_hours = WholeNumberField(
        "Follow-up after (hours)", validators=[Optional()],
        description="How long Amazon may stay silent after a submission before the "
        "consultant is reminded. Empty uses the default.",
    )


class AgencyCalendarForm(FlaskForm):
    """The agency's calendar for business-day clocks, and its default deadline reminders."""

    country = SelectField("Public holidays of",
                          description="Holidays are not working days for clocks counted in business days.")
    subdivision = StringField("Region", description="Optional: a state or region code with holidays of "
                              "its own, e.g. BY (Bavaria) in Germany, CA in the US.")
    working_days = SelectMultipleField("Working days", choices=list(deadline_calendar.WEEKDAYS))
    deadline_lead_hours = StringField(
        "Remind before a deadline (hours)",
        description="Whole hours before it is due, separated by commas, e.g. 72, 24 (at most five). "
        "A reminder also goes when it is due, then daily while it is overdue.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.country.choices = [("", "None (no public holidays)")] + workdays.countries()


DEADLINE_UNIT_LABELS = {"hours": "hours", "days": "days", "business_days": "business days"}
PRESET_BLANK_ROWS = 2  # rows for new presets under the saved ones; left blank, they are ignored


class RowList(FieldList):
    """A FieldList whose row numbers in field names are ASCII digits only: WTForms' own
    reading takes "checklists-²-name" for a row number and then fails on int("²")."""

    def _extract_indices(self, prefix, formdata):
        offset = len(prefix) + 1
        for key in formdata:
            if key.startswith(prefix):
                index = parsing.whole_number(key[offset:].split(self._field_separator, 1)[0],
                                             maximum=parsing.MAX_ID)
                if index is not None:
                    yield index


class PresetRowForm(Form):
    """One preset on the presets page; the service (deadlines/presets.save) checks the values."""

    active = BooleanField("Active", default=True)
    case_kind = SelectField("Case kind", choices=[("", "Any kind")] + list(KIND_LABELS.items()))
    reason = SelectField("Reason", choices=[("", "Any reason")] + list(REASON_LABELS.items()))
    kind = SelectField("Deadline", choices=[("", "Choose…")] + [(k, clocks.KIND_LABELS[k])
                                                                 for k in clocks.ADDABLE_KINDS])
    title = StringField("Title", render_kw={"placeholder": "Title (empty: the deadline's name)"})
    amount = StringField("Runs for", render_kw={"inputmode": "numeric", "placeholder": "e.g. 17"})
    unit = SelectField("Unit", choices=list(DEADLINE_UNIT_LABELS.items()), default="days")
    clock = SelectField("Clock", choices=[("", "Usual for the kind"), ("amazon", "Amazon's"),
                                          ("agency", "The agency's")])
    lead_hours = StringField("Remind (hours before)", render_kw={"placeholder": "agency's"})
    remove = BooleanField("Remove")

    def is_blank(self) -> bool:
        return not any((self[name].data or "").strip() for name in ("kind", "title", "amount", "lead_hours"))


class PresetsForm(FlaskForm):
    presets = RowList(FormField(PresetRowForm), max_entries=presets.MAX_PRESETS + PRESET_BLANK_ROWS + 10)

    @staticmethod
    def initial(saved) -> dict:
        """The form's data for the agency's presets (`presets.Preset`s) and the blank rows."""
        rows = [{"active": p.active, "case_kind": p.case_kind or "", "reason": p.reason or "",
                 "kind": p.kind, "title": p.title, "amount": str(p.amount), "unit": p.unit,
                 "clock": p.clock, "lead_hours": (p.lead_hours or "").replace(",", ", ")} for p in saved]
        return {"presets": rows + [{"active": True, "unit": "days"}] * PRESET_BLANK_ROWS}

    def sent_rows(self) -> list[tuple[int, dict]]:
        """(row on the page, values) of each row to save: not removed, not left blank."""
        return [(index, {name: entry.form[name].data for name in (
                    "active", "case_kind", "reason", "kind", "title", "amount", "unit", "clock", "lead_hours")})
                for index, entry in enumerate(self.presets)
                if not entry.form.remove.data and not entry.form.is_blank()]

    def show_row_errors(self, fields: dict[str, str], sent: list[tuple[int, dict]]) -> list[str]:
        """Put the service's `presets-<i>-<field>` errors beside the fields of the row they are
        about (i counts the rows sent); returns the messages that belong to no field."""
        unplaced = []
        for key, message in fields.items():
            parts = key.split("-")
            if len(parts) == 3 and parts[1].isdigit() and int(parts[1]) < len(sent):
                row = self.presets[sent[int(parts[1])][0]].form
                if parts[2] in row._fields:
                    row[parts[2]].errors = list(row[parts[2]].errors or []) + [message]
                    continue
            unplaced.append(message)
        return unplaced


class ProfileForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired()])
    timezone = SelectField("Your time zone", validators=[Optional()])


class PoaForm(OnceForm):
    subject = StringField("Subject")
    introduction = TextAreaField("Introduction",
                                 description="Say what happened and that the seller takes responsibility.")
    root_cause = TextAreaField("Root cause", description="Why it happened, specifically.")
    corrective_actions = TextAreaField("Corrective actions",
                                       description="Actions already taken, one per line.")
    preventive_measures = TextAreaField("Preventive measures",
                                        description="What stops it happening again, one per line.")
    closure = TextAreaField("Closure")


class SubmissionForm(OnceForm):
    poa_draft_id = SelectField("POA version")
    submitted_at = LocalMomentField("Submitted at", validators=[Optional()],
                                      description="In your time zone. Leave empty for now.")
    channel = SelectField("Channel")
    amazon_reference = StringField("Amazon's reference", description="Case ID or appeal reference, if any.")


class ResponseForm(OnceForm):
    # No default: an untouched form recorded "Reinstated" once. The choices (first "Choose…")
    # are set where the form is made; the service refuses an empty one beside the field.
    outcome = SelectField("Outcome", render_kw={"required": True})
    received_at = LocalMomentField("Received at", validators=[Optional()],
                                     description="In your time zone. Leave empty for now.")
    body = TextAreaField("Amazon's reply")


class SubmissionCorrectionForm(FlaskForm):
    submitted_at = LocalMomentField("Submitted at", description="In your time zone.")
    channel = SelectField("Channel")
    amazon_reference = StringField("Amazon's reference", description="Case ID or appeal reference, if any.")


class NotificationForm(FlaskForm):
    notify_each_reminder = BooleanField("Email me each follow-up reminder")
    notify_daily_digest = BooleanField("Email me a daily digest at 08:00 of every case awaiting Amazon")
    quiet_hours_enabled = BooleanField("Hold reminders during quiet hours until the morning")
    quiet_start = StringField("Quiet from", default="20:00")
    quiet_end = StringField("Quiet until", default="08:00")


class ForgotPasswordForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired()])


class ResetPasswordForm(FlaskForm):
    password = PasswordField("New password", validators=[DataRequired()],
                             description="At least 10 characters; a few unrelated words work well.")


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField("Current password", validators=[DataRequired()])
    new_password = PasswordField("New password", validators=[DataRequired()],
                                 description="At least 10 characters; other sessions are signed out.")


EVIDENCE_CATEGORY_CHOICES = list(CATEGORY_LABELS.items())
EVIDENCE_DESCRIPTION_HELP = "What it shows and why it matters. The POA export prints it beside the file name."


class UploadForm(OnceForm):
    """Evidence files for a case; made with `prefix="evidence"` on the case page."""

    # CSRF is checked for every POST by CSRFProtect; the template adds the token.
    class Meta:
        csrf = False

    files = MultipleFileField("Files")
    category = SelectField("Category", choices=EVIDENCE_CATEGORY_CHOICES, default="other")
    description = TextAreaField("Description", description=EVIDENCE_DESCRIPTION_HELP)


class EvidenceEditForm(FlaskForm):
    class Meta:
        csrf = False

    category = SelectField("Category", choices=EVIDENCE_CATEGORY_CHOICES)
    description = TextAreaField("Description", description=EVIDENCE_DESCRIPTION_HELP)


class DeadlineForm(OnceForm):
    """Add a deadline on the case page (prefix "deadline"); the kinds are set where it is made.
    No field validators: the service checks every field at once (views/helpers.save_form)."""

    class Meta:  # CSRFProtect checks every POST; the template adds the token
        csrf = False

    kind = SelectField("Kind")
    title = StringField("Title", description="Leave empty to use the kind's name.")
    due_at = LocalMomentField("Due", validators=[Optional()], description="In your time zone.")
    note = TextAreaField("Note")


class DeadlineEditForm(OnceForm):
    """Change a deadline on the case page (prefix "deadline-<id>", so each has its own ids)."""

    class Meta:
        csrf = False

    title = StringField("Title")
    due_at = LocalMomentField("Due", validators=[Optional()], description="In your time zone.")
    note = TextAreaField("Note")


# ---------------------------------------------------------------- document checklists and the
# client quiet hours (issue 16: the admin's side of the client portal)

from caseapp.services.portal import checklists as portal_checklists  # noqa: E402

CHECKLIST_BLANK_ITEMS = 2  # empty item rows under each checklist; left empty, they are ignored
ITEM_KIND_LABELS = {"file": "Files to upload", "answer": "A written answer"}
_CHECKLIST_ITEM_FIELDS = ("title", "instructions", "category", "kind")


class ChecklistItemForm(Form):
    """One item of a checklist; the service (portal/checklists.save) checks the values."""

    title = StringField("Title", render_kw={"placeholder": "e.g. Supplier invoices"})
    instructions = TextAreaField("Instructions for the client", render_kw={"rows": 3})
    category = SelectField("Files go to", choices=list(CATEGORY_LABELS.items()), default="other")
    kind = SelectField("The client sends", choices=list(ITEM_KIND_LABELS.items()), default="file")
    remove = BooleanField("Remove")

    def is_blank(self) -> bool:
        return not any((self[name].data or "").strip() for name in ("title", "instructions"))


class ChecklistForm(Form):
    name = StringField("Name", render_kw={"placeholder": "e.g. Proof of authenticity"})
    key = StringField("Key", description="Optional: lower-case letters, digits and _; made from the "
                      "name when empty. The API names a checklist by its key.")
    reason = SelectField("Suggested for", choices=[("", "Any case")] + list(REASON_LABELS.items()))
    items = RowList(FormField(ChecklistItemForm),
                      max_entries=portal_checklists.MAX_ITEMS + CHECKLIST_BLANK_ITEMS + 5)
    remove = BooleanField("Remove this checklist")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.list_errors: list[str] = []  # about the checklist as a whole ("Add at least one item.")

    def is_blank(self) -> bool:
        return not (self.name.data or "").strip() and all(e.form.is_blank() for e in self.items)


class ChecklistsForm(FlaskForm):
    checklists = RowList(FormField(ChecklistForm), max_entries=portal_checklists.MAX_CHECKLISTS + 2)

    @staticmethod
    def initial(saved) -> dict:
        """The form's data for the agency's checklists (`checklists.Checklist`s), each with empty
        item rows, and one empty checklist to add."""
        blank_items = [{"category": "other", "kind": "file"}] * CHECKLIST_BLANK_ITEMS
        rows = [{"name": c.name, "key": c.key, "reason": c.reason or "",
                 "items": [item.as_dict() for item in c.items] + blank_items} for c in saved]
        return {"checklists": rows + [{"name": "", "key": "", "reason": "",
                                       "items": blank_items + [{"category": "other", "kind": "file"}]}]}

    def sent(self) -> list[dict]:
        """What to save, one entry per checklist on the page and one per item row, so that the
        service's field names (checklists-<i>-items-<n>-title) are the page's; a removed
        checklist or item goes as an empty one, which the service drops."""
        sent = []
        for entry in self.checklists:
            c = entry.form
            if c.remove.data:
                sent.append({"name": "", "key": "", "reason": "", "items": []})
                continue
            items = [{"title": "", "instructions": ""} if i.form.remove.data
                     else {name: i.form[name].data for name in _CHECKLIST_ITEM_FIELDS} for i in c.items]
            sent.append({"name": c.name.data, "key": c.key.data, "reason": c.reason.data, "items": items})
        return sent

    def show_errors(self, fields: dict[str, str]) -> list[str]:
        """Put the service's errors beside their fields; returns those that belong to none."""
        unplaced = []
        for key, message in fields.items():
            parts = key.split("-")
            target = None
            if len(parts) >= 3 and parts[0] == "checklists" and parts[1].isdigit() \
                    and int(parts[1]) < len(self.checklists):
                checklist = self.checklists[int(parts[1])].form
                if len(parts) == 3 and parts[2] == "items":
                    checklist.list_errors.append(message)
                    continue
                if len(parts) == 3 and parts[2] in ("name", "key", "reason"):
                    target = checklist[parts[2]]
                elif len(parts) == 5 and parts[2] == "items" and parts[3].isdigit() \
                        and int(parts[3]) < len(checklist.items) and parts[4] in _CHECKLIST_ITEM_FIELDS:
                    target = checklist.items[int(parts[3])].form[parts[4]]
            if target is None:
                unplaced.append(message)
            else:
                target.errors = list(target.errors or []) + [message]
        return unplaced


class ClientQuietHoursForm(FlaskForm):
    """The agency's client quiet hours (services/portal/settings.py checks them)."""

    client_quiet_start = StringField("No reminders to clients from", render_kw={"inputmode": "numeric",
                                                                                "placeholder": "20:00"})
    client_quiet_end = StringField("until", render_kw={"inputmode": "numeric", "placeholder": "08:00"})


# ---------------------------------------------------------------- document requests (issue 16)
# The consultant's side of the client portal: asking the client for documents on the case
# page (views/requests.py) and deciding on what came. The services/portal package checks the
# values; these forms only read them and carry the errors back beside their fields.

REQUEST_ITEM_KINDS = [("file", "Files"), ("answer", "A written answer")]
REQUEST_BLANK_ROWS = 3  # typed items under the checklists; left empty, a row is ignored


class RequestItemRowForm(Form):
    """One typed item of a new document request."""

    title = StringField("What to send")
    instructions = TextAreaField("Instructions for the client")
    category = SelectField("Evidence category", choices=EVIDENCE_CATEGORY_CHOICES, default="other")
    kind = SelectField("The client sends", choices=REQUEST_ITEM_KINDS, default="file")

    def sent(self) -> dict:
        return {name: self[name].data or "" for name in ("title", "instructions", "category", "kind")}


class DocumentRequestForm(OnceForm):
    """"Ask the client for documents" on the case page (prefix "docreq"); the checklist choices
    are the agency's, set where the form is made."""

    class Meta:  # CSRFProtect checks every POST; the template adds the token
        csrf = False

    checklist = SelectMultipleField("Checklists", choices=[], validate_choice=False)
    items = FieldList(FormField(RequestItemRowForm), min_entries=REQUEST_BLANK_ROWS, max_entries=25)
    due_at = LocalMomentField("Due", validators=[Optional()], description="In your time zone.")
    message = TextAreaField("Message to the client", description="Shown at the top of the email and the portal page.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.items_errors: list[str] = []  # about the items as a whole ("ask for at least one")

    def sent(self) -> dict:
        """What the service reads, but the due time (the view reads it in the viewer's zone)."""
        return {"checklist": list(self.checklist.data or []), "message": self.message.data or "",
                "items": [entry.form.sent() for entry in self.items]}

    def place(self, fields: dict[str, str]) -> list[str]:
        """Put the service's errors beside their fields ("items-<n>-title" beside row n),
        keeping a field's own reading error first; returns those that belong to no field."""
        unplaced = []
        for key, message in fields.items():
            parts = key.split("-")
            target = None
            if len(parts) == 3 and parts[0] == "items" and parts[1].isdigit() and int(parts[1]) < len(self.items):
                target = self.items[int(parts[1])].form._fields.get(parts[2])
            elif key == "items":
                self.items_errors.append(message)
                continue
            elif key in ("checklist", "due_at", "message"):
                target = self[key]
            if target is None:
                unplaced.append(message)
            elif not target.errors:
                target.errors = [message]
        return unplaced


class ItemDecisionForm(OnceForm):
    """Accept or send back what the client sent for one item; "status" comes from the button."""

    class Meta:
        csrf = False

    status = StringField("Decision")
    reason = TextAreaField("Why it goes back", description="The client reads this in the email and on the portal.")


# ---------------------------------------------------------------- email in (issue 17)
# The triage inbox and the case page's "Amazon wrote" card (views/inbound.py); the
# services/inbound package checks what they send.

class FileMessageForm(FlaskForm):
    """File a message from the triage inbox on a case, named by its number."""

    case_number = StringField("Case number", render_kw={"inputmode": "numeric", "autocomplete": "off",
                                                        "placeholder": "e.g. 1234"})


class ProposalFixForm(FlaskForm):
    """Record Amazon's mail as its reply with another outcome or submission than proposed."""

    outcome = SelectField("Outcome", render_kw={"required": True})
    submission_id = SelectField("Answers the submission")


class AmazonDomainsForm(FlaskForm):
    amazon_domains = TextAreaField(
        "Amazon's sender domains", render_kw={"rows": 8, "spellcheck": "false"},
        description="One line per marketplace, e.g. “US: amazon.com”; several domains on a line "
                    "separated by commas. Subdomains count too. Empty: caseapp's shipped list.")


class SavedViewForm(FlaskForm):
    """Save the case list's current filters and sort under a name (views/dashboard.py)."""
    name = StringField("Name of this view", validators=[DataRequired(message="Give the view a name."),
                                                        Length(max=80, message="At most 80 characters.")])
    shared = BooleanField("Share with the agency")
    make_default = BooleanField("Open the case list with it")
