"""Agencies and their people: who may sign in, as what, and what they did.

- `people`: agencies, people, roles and their settings, sign-in by password.
- `roles`: `require_admin`, the one check for admin-only actions.
- `audit`: the audit log (`record` adds to the caller's unit of work; `events` reads).
- `password_rules`, `passwords`: what a password must be; changing and resetting one.
- `sessions`: sign-in sessions kept on the server, one row per browser.
- `tokens`: API tokens.
- `invitations`: an admin invites a person, who chooses their own password.
- `mail_health`: bouncing addresses, the mail problems admins see and are mailed about, Retry.

Stands on core, models and mail; every feature package above may use it.
"""
from caseapp.services.accounts import audit, invitations, mail_health, passwords, sessions, tokens
from caseapp.services.accounts.password_rules import check as check_password
from caseapp.services.accounts.people import (
    authenticate, create_agency, create_user, email_key, find_user, follow_up_hours, get_agency_by_name,
    get_user, list_users, set_active, update_agency_settings, update_notifications, update_own_profile,
    update_user,
)
from caseapp.services.accounts.roles import require_admin

__all__ = [
    "audit", "authenticate", "check_password", "create_agency", "create_user", "email_key", "find_user",
    "follow_up_hours", "get_agency_by_name", "get_user", "invitations", "list_users", "mail_health", "passwords",
    "require_admin", "sessions", "set_active", "tokens", "update_agency_settings", "update_notifications",
    "update_own_profile", "update_user",
]
