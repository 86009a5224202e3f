from __future__ import annotations

from acme.core.errors import (
    Conflict,
    DomainError,
    FieldError,
    Invalid,
    Malformed,
    NotFound,
    PreconditionFailed,
)


def test_every_error_is_a_domain_error_with_a_code() -> None:
    for kind in (NotFound, Conflict, PreconditionFailed, Invalid, Malformed):
        error = kind("something happened")
        assert isinstance(error, DomainError)
        assert error.code == kind.default_code
        assert error.detail == "something happened"


def test_invalid_names_its_fields() -> None:
    error = Invalid("bad input", errors=[FieldError(("body", "title"), "too long")])
    assert error.errors[0].loc == ("body", "title")
    assert repr(error) == "Invalid('bad input', code='invalid')"
