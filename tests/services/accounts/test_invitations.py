"""Invitations: an admin invites by email, the person sets their own password."""
import re
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from caseapp.extensions import db
from caseapp.models import AuditEvent, Invitation, OutboxMessage, User
from caseapp.services.accounts import people
from caseapp.services.appeals import dispatch
from caseapp.services.accounts import invitations
from caseapp.core.errors import Conflict, Forbidden, NotFound, ValidationFailed

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)
NEW_PASSWORD = "plum-orbit-kettle-77"


def link_of(message) -> str:
    """The invitation link in a delivered email's text part."""
    text = message.get_body(preferencelist=("plain",)).get_content()
    match = re.search(r"http://\S+/invitations/(\S+)", text)
    assert match, text
    return match.group(1)


def deliver(now=NOW):
    return dispatch.run_pass(now)


def test_invited_person_sets_their_own_password_and_signs_in(world, smtp_server):
    invitation = invitations.invite(world.admin_a, "Nora.New@Agency-A.example", "Nora New",
                                    "consultant", now=NOW)
    assert invitation.email == "nora.new@agency-a.example"
    assert invitation.expires_at == NOW + timedelta(hours=72)
    deliver()
    (mail,) = smtp_server.mailbox.to("nora.new@agency-a.example")
    assert mail["Subject"] == "Join Agency A on caseapp"
    token = link_of(mail)
    assert invitations.find_valid(token, NOW).id == invitation.id

    user = invitations.accept(token, "Nora New", NEW_PASSWORD, now=NOW + timedelta(hours=1))
    assert (user.agency_id, user.role, user.email) == (world.agency_a.id, "consultant",
                                                       "nora.new@agency-a.example")
    assert people.authenticate("nora.new@agency-a.example", NEW_PASSWORD).id == user.id
    # Used once: the link opens nothing any more.
    assert invitations.find_valid(token, NOW + timedelta(hours=2)) is None
    with pytest.raises(ValidationFailed):
        invitations.accept(token, "Nora Again", NEW_PASSWORD, now=NOW + timedelta(hours=2))
    kinds = db.session.scalars(select(AuditEvent.kind).order_by(AuditEvent.id)).all()
    assert kinds[-2:] == ["invitation", "invitation_accepted"]


def test_the_link_is_never_stored(world):
    invitation = invitations.invite(world.admin_a, "nora@agency-a.example", "Nora", "consultant", now=NOW)
    token = invitations.token_for(invitation)
    message = db.session.scalar(select(OutboxMessage).where(OutboxMessage.kind == "invitation"))
    assert token not in message.body_text and token not in message.body_html
    row = db.session.get(Invitation, invitation.id)
    assert token not in (row.token_hash, row.token_salt)


def test_the_link_expires_after_72_hours(world):
    invitation = invitations.invite(world.admin_a, "nora@agency-a.example", "Nora", "consultant", now=NOW)
    token = invitations.token_for(invitation)
    assert invitations.find_valid(token, NOW + timedelta(hours=71, minutes=59)) is not None
    assert invitations.find_valid(token, NOW + timedelta(hours=72)) is None
    with pytest.raises(ValidationFailed):
        invitations.accept(token, "Nora", NEW_PASSWORD, now=NOW + timedelta(hours=73))
    assert db.session.scalar(select(User).where(User.email == "nora@agency-a.example")) is None


def test_resend_gives_a_new_link_and_kills_the_old(world):
    invitation = invitations.invite(world.admin_a, "nora@agency-a.example", "Nora", "consultant", now=NOW)
    old = invitations.token_for(invitation)
    later = NOW + timedelta(hours=70)
    invitations.resend(world.admin_a, invitation.id, now=later)
    new = invitations.token_for(invitation)
    assert new != old
    assert invitations.find_valid(old, later) is None
    assert invitations.find_valid(new, later + timedelta(hours=71)) is not None  # the full period again
    assert db.session.scalar(select(db.func.count(OutboxMessage.id))) == 2


def test_revoked_invitation_cannot_be_accepted(world):
    invitation = invitations.invite(world.admin_a, "nora@agency-a.example", "Nora", "consultant", now=NOW)
    token = invitations.token_for(invitation)
    invitations.revoke(world.admin_a, invitation.id, now=NOW)
    assert invitations.find_valid(token, NOW) is None
    with pytest.raises(Conflict):
        invitations.resend(world.admin_a, invitation.id, now=NOW)


def test_inviting_the_same_address_again_replaces_the_pending_invitation(world):
    first = invitations.invite(world.admin_a, "nora@agency-a.example", "Nora", "consultant", now=NOW)
    old = invitations.token_for(first)
    second = invitations.invite(world.admin_a, "nora@agency-a.example", "Nora N", "admin", now=NOW)
    assert invitations.find_valid(old, NOW) is None
    assert [i.id for i in invitations.open_invitations(world.admin_a)] == [second.id]


def test_only_admins_invite_and_only_their_own_agency(world):
    with pytest.raises(Forbidden):
        invitations.invite(world.consultant_a, "nora@agency-a.example", "Nora", "consultant")
    invitation = invitations.invite(world.admin_a, "nora@agency-a.example", "Nora", "consultant")
    for act in (invitations.resend, invitations.revoke, invitations.get):
        with pytest.raises(NotFound):
            act(world.admin_b, invitation.id)


def test_a_member_of_the_agency_is_named_as_such(world):
    with pytest.raises(ValidationFailed) as caught:
        invitations.invite(world.admin_a, world.consultant_a.email, "Carl", "consultant")
    assert "already a member of your agency" in caught.value.fields["email"]


def test_fields_are_checked_together(world):
    with pytest.raises(ValidationFailed) as caught:
        invitations.invite(world.admin_a, "not an address", "", "boss", "Mars/Olympus")
    assert set(caught.value.fields) == {"email", "name", "role", "timezone"}
    with pytest.raises(ValidationFailed) as caught:
        invitations.invite(world.admin_a, "nora@agency-a.example", "N" * 121, "consultant")
    assert "120" in caught.value.fields["name"]


def test_a_weak_password_is_refused_and_the_link_still_works(world):
    invitation = invitations.invite(world.admin_a, "nora@agency-a.example", "Nora", "consultant", now=NOW)
    token = invitations.token_for(invitation)
    with pytest.raises(ValidationFailed) as caught:
        invitations.accept(token, "Nora", "password", now=NOW)
    assert "password" in caught.value.fields
    assert invitations.find_valid(token, NOW) is not None


def test_an_address_of_another_agency_looks_like_any_unanswered_invitation(world, smtp_server):
    """The admin of A learns nothing about agency B's people: same answer, same outbox row."""
    fresh = invitations.invite(world.admin_a, "fresh@elsewhere.example", "Fresh", "consultant", now=NOW)
    taken = invitations.invite(world.admin_a, world.consultant_b.email, "Ben", "consultant", now=NOW)
    assert (fresh.state(NOW), taken.state(NOW)) == ("pending", "pending")
    rows = {m.recipient: m for m in people.outbox(world.admin_a)}
    assert rows[fresh.email].subject == rows[taken.email].subject
    assert rows[fresh.email].kind == rows[taken.email].kind == "invitation"
    deliver()
    # The owner of the taken address is told why it cannot be used; it carries no link.
    (to_ben,) = smtp_server.mailbox.to(world.consultant_b.email)
    assert "already has a caseapp account" in to_ben.get_body(preferencelist=("plain",)).get_content()
    assert "/invitations/" not in to_ben.get_body(preferencelist=("plain",)).get_content()
    # And the token, were it guessed, would not make a second account for that address.
    with pytest.raises(ValidationFailed):
        invitations.accept(invitations.token_for(taken), "Ben", NEW_PASSWORD, now=NOW)
    assert db.session.get(User, world.consultant_b.id).agency_id == world.agency_b.id


def test_mail_of_a_revoked_or_replaced_invitation_is_not_sent(world, smtp_server):
    revoked = invitations.invite(world.admin_a, "nora@agency-a.example", "Nora", "consultant", now=NOW)
    invitations.revoke(world.admin_a, revoked.id, now=NOW)
    replaced = invitations.invite(world.admin_a, "lee@agency-a.example", "Lee", "consultant", now=NOW)
    invitations.resend(world.admin_a, replaced.id, now=NOW)
    report = deliver()
    assert report.sent == 1  # only the second mail to Lee, with the link that works
    (to_lee,) = smtp_server.mailbox.messages
    assert invitations.find_valid(link_of(to_lee), NOW).id == replaced.id
    statuses = sorted(db.session.scalars(select(OutboxMessage.status)))
    assert statuses == ["cancelled", "cancelled", "sent"]


def test_a_missing_password_or_name_is_a_field_error(world):
    invitation = invitations.invite(world.admin_a, "nora@agency-a.example", "Nora", "consultant", now=NOW)
    with pytest.raises(ValidationFailed) as caught:
        invitations.accept(invitations.token_for(invitation), None, None, now=NOW)
    assert set(caught.value.fields) == {"name", "password"}
