"""Events the accounts component publishes, as versioned, documented payloads.

``account.created`` (version 1) is written to the outbox in the same
transaction as the new account, so it is published if and only if the
account exists. Payload (JSON object)::

    {
        "account_id": "3f1c...",  # UUID of the new account
        "issuer": "https://auth.trustnet.app",  # the identity provider, or "urn:acme:local"
        "created_at": "2026-11-27T22:50:00+00:00",
    }

Names and e-mail addresses are left out on purpose: consumers key their own
data by ``account_id`` and ask the accounts API for anything else.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from acme.core.messaging import Message

from .models import Account

__all__ = ["ACCOUNT_CREATED", "AccountCreatedV1", "account_created"]

ACCOUNT_CREATED = "account.created"


class AccountCreatedV1(BaseModel):
    """The ``account.created`` payload, version 1."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    account_id: uuid.UUID
    issuer: str
    created_at: datetime


def account_created(account: Account) -> Message:
    """The message announcing ``account``."""
    payload = AccountCreatedV1(
        account_id=account.id, issuer=account.issuer, created_at=account.created_at
    )
    return Message(ACCOUNT_CREATED, payload.model_dump(mode="json"), version=1)
