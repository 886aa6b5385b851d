"""Domain errors. Each carries a message written for the user who caused it."""


class DomainError(Exception):
    code = "error"
    status = 400

    def __init__(self, message: str, fields: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        self.fields = fields or {}
        # What already exists in the way (a duplicate): (kind, id, field), e.g. ("client", 7,
        # "seller_id"); the pages link to it beside that field, the API answers `existing_id`.
        self.existing: tuple[str, int, str] | None = None

    def naming(self, kind: str, existing_id: int, field: str) -> "DomainError":
        self.existing = (kind, existing_id, field)
        return self


class NotFound(DomainError):
    """Missing, or belonging to another agency: the two are indistinguishable."""

    code = "not_found"
    status = 404


class Forbidden(DomainError):
    code = "forbidden"
    status = 403


class ValidationFailed(DomainError):
    code = "validation_error"
    status = 422

    def __init__(self, fields: dict[str, str], message: str | None = None):
        super().__init__(message or "Please correct the highlighted fields.", fields)


class Conflict(DomainError):
    code = "conflict"
    status = 409
