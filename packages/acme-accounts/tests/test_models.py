"""The account model's own behaviour."""

from __future__ import annotations

import dataclasses
import uuid
from copy import copy
from datetime import UTC, datetime

from acme.accounts.models import Account, AccountStatus


def test_a_copy_has_every_field_and_is_apart() -> None:
    now = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
    account = Account(
        id=uuid.uuid4(),
        issuer="https://issuer.example",
        subject="sub-1",
        display_name="Ann",
        email="ann@example.com",
        status=AccountStatus.DISABLED,
        created_at=now,
        last_sign_in_at=now,
    )
    # Account.__copy__ names the fields one by one: a new field must be added there too.
    assert [f.name for f in dataclasses.fields(Account)] == [
        "id",
        "issuer",
        "subject",
        "display_name",
        "email",
        "status",
        "created_at",
        "last_sign_in_at",
    ]
    copied = copy(account)
    for field in dataclasses.fields(Account):
        assert getattr(copied, field.name) == getattr(account, field.name), field.name
    assert copied == account
    assert copied is not account
    copied.rename("Bea")
    assert account.display_name == "Ann"
