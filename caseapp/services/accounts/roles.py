"""Who may do what inside an agency: the one check for admin-only actions."""
from caseapp.core.errors import Forbidden
from caseapp.models import User


def require_admin(user: User) -> None:
    if not user.is_admin:
        raise Forbidden("Only an agency admin can do this.")
