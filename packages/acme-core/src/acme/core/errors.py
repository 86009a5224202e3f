"""The error types every acme component raises.

Use cases raise these; they never see HTTP. The API maps each type to one
status code (``acme_api.problems``), so a component decides *what* went wrong
and the edge decides how to say it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = [
    "Conflict",
    "DomainError",
    "FieldError",
    "Invalid",
    "Malformed",
    "NotFound",
    "PermissionDenied",
    "PreconditionFailed",
    "Unauthenticated",
    "Unavailable",
]


@dataclass(frozen=True, slots=True)
class FieldError:
    """One rejected input field: where it is and why it was refused."""

    loc: tuple[str | int, ...]
    message: str
    type: str = "invalid"


class DomainError(Exception):
    """Base of every expected failure.

    Args:
        detail: A sentence for the caller; it must not contain secrets or
            internals (it is shown to clients as is).
        code: A stable machine-readable identifier, e.g. ``"item_not_found"``.
        extra: Further public members for the problem document.
    """

    default_code = "domain_error"
    title = "Request could not be processed"

    def __init__(
        self,
        detail: str,
        *,
        code: str | None = None,
        extra: Mapping[str, object] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.code = code or self.default_code
        self.extra: Mapping[str, object] = dict(extra or {})

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.detail!r}, code={self.code!r})"


class NotFound(DomainError):
    """The thing asked for does not exist, or the caller may not know it does."""

    default_code = "not_found"
    title = "Not found"


class Conflict(DomainError):
    """The change clashes with the current state (duplicate key, stale version, ...)."""

    default_code = "conflict"
    title = "Conflict"


class PreconditionFailed(Conflict):
    """A caller-supplied precondition (an expected version) no longer holds."""

    default_code = "precondition_failed"
    title = "Precondition failed"


class PermissionDenied(DomainError):
    """The caller is known but may not do this."""

    default_code = "permission_denied"
    title = "Forbidden"


class Unauthenticated(DomainError):
    """The caller could not be identified: missing, invalid or expired credentials."""

    default_code = "unauthenticated"
    title = "Unauthenticated"


class Invalid(DomainError):
    """The input breaks a rule. ``errors`` names each offending field when known."""

    default_code = "invalid"
    title = "Invalid input"

    def __init__(
        self,
        detail: str,
        *,
        code: str | None = None,
        errors: Sequence[FieldError] = (),
        extra: Mapping[str, object] | None = None,
    ) -> None:
        super().__init__(detail, code=code, extra=extra)
        self.errors: tuple[FieldError, ...] = tuple(errors)


class Malformed(Invalid):
    """The request itself cannot be read: a malformed cursor, token or identifier."""

    default_code = "malformed"
    title = "Malformed request"


class Unavailable(DomainError):
    """A dependency (database, broker, identity provider) cannot be reached now.

    Args:
        diagnostic: Why, for operators (the driver's message, a SQLSTATE):
            the API logs it and never shows it to clients. It must not
            contain secrets either.
    """

    default_code = "unavailable"
    title = "Service unavailable"

    def __init__(
        self,
        detail: str,
        *,
        code: str | None = None,
        extra: Mapping[str, object] | None = None,
        diagnostic: str | None = None,
    ) -> None:
        super().__init__(detail, code=code, extra=extra)
        self.diagnostic = diagnostic
