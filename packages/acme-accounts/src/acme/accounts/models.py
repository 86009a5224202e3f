"""Accounts and sign-in sessions: plain dataclasses and their rules (standard library only)."""

from __future__ import annotations

import unicodedata
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

__all__ = [
    "LOCAL_ISSUER",
    "MAX_DISPLAY_NAME",
    "MAX_EMAIL",
    "Account",
    "AccountStatus",
    "RefreshFamily",
    "RefreshToken",
    "SignInAttempt",
    "clean_display_name",
]

LOCAL_ISSUER = "urn:acme:local"
"""The issuer of accounts made without a provider (development tokens, benchmarks)."""

MAX_DISPLAY_NAME = 100
MAX_EMAIL = 320


class AccountStatus(StrEnum):
    """Whether an account may sign in and call the API."""

    ACTIVE = "active"
    DISABLED = "disabled"


def clean_display_name(value: str) -> str:
    """A display name normalised (NFC, trimmed) or ``ValueError`` saying what is wrong."""
    name = unicodedata.normalize("NFC", value).strip()
    if not name:
        raise ValueError("the display name is empty")
    if len(name) > MAX_DISPLAY_NAME:
        raise ValueError(f"the display name is longer than {MAX_DISPLAY_NAME} characters")
    if any(unicodedata.category(ch).startswith("C") for ch in name):
        raise ValueError("the display name contains control characters")
    return name


@dataclass(slots=True)
class Account:
    """A person (or a local test identity) known by the pair (issuer, subject)."""

    id: uuid.UUID
    issuer: str
    subject: str
    display_name: str
    email: str | None
    status: AccountStatus
    created_at: datetime
    last_sign_in_at: datetime | None = None

    @classmethod
    def new(
        cls, *, issuer: str, subject: str, display_name: str, email: str | None, now: datetime
    ) -> Account:
        """A new active account; a provider's unusable name falls back to the subject."""
        try:
            name = clean_display_name(display_name)
        except ValueError:
            name = clean_display_name(subject[:MAX_DISPLAY_NAME]) if subject.strip() else "user"
        return cls(
            id=uuid.uuid4(),
            issuer=issuer,
            subject=subject,
            display_name=name,
            email=email if email and len(email) <= MAX_EMAIL else None,
            status=AccountStatus.ACTIVE,
            created_at=now,
        )

    @property
    def is_active(self) -> bool:
        return self.status is AccountStatus.ACTIVE

    @property
    def is_local(self) -> bool:
        """Made without a provider (``acme-api token issue``)."""
        return self.issuer == LOCAL_ISSUER

    def record_sign_in(self, now: datetime) -> None:
        self.last_sign_in_at = now

    def rename(self, display_name: str) -> None:
        """Raises ``ValueError`` when the name breaks :func:`clean_display_name`'s rules."""
        self.display_name = clean_display_name(display_name)

    def disable(self) -> None:
        self.status = AccountStatus.DISABLED

    def __copy__(self) -> Account:
        # What copy.copy makes, field by field: its generic path (__reduce_ex__) was a
        # third of authenticate's CPU, which copies the memoised account on every request.
        return Account(
            self.id,
            self.issuer,
            self.subject,
            self.display_name,
            self.email,
            self.status,
            self.created_at,
            self.last_sign_in_at,
        )


@dataclass(slots=True)
class SignInAttempt:
    """What the callback must check: sealed into the browser's sign-in cookie, short-lived.

    Only a hash of ``state`` is kept, so whoever reads the attempt (a sealed
    cookie cannot be read; a record of finished sign-ins keeps the hash
    alone) cannot finish someone else's sign-in.
    """

    state_hash: str
    nonce: str
    code_verifier: str
    return_to: str
    created_at: datetime
    expires_at: datetime

    def expired(self, now: datetime) -> bool:
        return now >= self.expires_at


@dataclass(slots=True)
class RefreshFamily:
    """One sign-in session: every refresh token rotated from one sign-in.

    The family has an absolute end (``expires_at``); rotating never extends
    it. Revoking it ends the session and every token in it.
    """

    id: uuid.UUID
    account_id: uuid.UUID
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None = None
    revoked_reason: str | None = None

    def usable(self, now: datetime) -> bool:
        return self.revoked_at is None and now < self.expires_at

    def revoke(self, *, reason: str, now: datetime) -> None:
        if self.revoked_at is None:
            self.revoked_at = now
            self.revoked_reason = reason


@dataclass(slots=True)
class RefreshToken:
    """An opaque refresh token, stored by its hash; usable once."""

    token_hash: str
    family_id: uuid.UUID
    issued_at: datetime
    expires_at: datetime
    used_at: datetime | None = field(default=None)
