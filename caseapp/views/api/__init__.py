"""The JSON API at /api/v1: bearer tokens, JSON errors, the same services as the pages."""
from caseapp.views.api import resources  # noqa: F401  (defines the routes)
from caseapp.views.api.core import bp

__all__ = ["bp"]
