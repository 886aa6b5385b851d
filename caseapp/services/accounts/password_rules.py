"""What a password must be: long enough and hard to guess (zxcvbn), never about its owner."""
from __future__ import annotations

from zxcvbn import zxcvbn

from caseapp.core.errors import ValidationFailed
from caseapp.models import User

MIN_LENGTH = 10
MIN_STRENGTH = 3  # zxcvbn's score: 3 means about 10^8 guesses or more


def problem(password: str, hints: tuple[str, ...] = ()) -> str | None:
    """Why this password is refused, or None. `hints` are words about the person (email, name)."""
    if not isinstance(password, str) or len(password) < MIN_LENGTH:
        return f"A password needs at least {MIN_LENGTH} characters."
    if len(password) > 200:
        return "A password can have at most 200 characters."
    result = zxcvbn(password[:100], user_inputs=[h for h in hints if h])
    if result["score"] < MIN_STRENGTH:
        warning = result["feedback"].get("warning") or "It is too easy to guess."
        return f"{warning.rstrip('.')}. Choose a less common password, e.g. a few unrelated words."
    return None


def check(password: str, hints: tuple[str, ...] = (), field: str = "password") -> None:
    message = problem(password, hints)
    if message:
        raise ValidationFailed({field: message})


def hints_for(user: User) -> tuple[str, ...]:
    return (user.email, user.email.split("@")[0], user.name, user.agency.name)
