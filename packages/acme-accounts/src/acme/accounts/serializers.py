"""Input and output shapes of the accounts use cases (pydantic)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .models import MAX_DISPLAY_NAME, Account, clean_display_name

__all__ = ["AccountOut", "ProfileUpdate", "SignInStart", "TokenPair"]


class AccountOut(BaseModel):
    """An account as its owner sees it."""

    model_config = ConfigDict(frozen=True)

    id: uuid.UUID
    issuer: str
    subject: str
    display_name: str
    email: str | None
    status: Literal["active", "disabled"]
    created_at: datetime
    last_sign_in_at: datetime | None

    @classmethod
    def of(cls, account: Account) -> AccountOut:
        return cls(
            id=account.id,
            issuer=account.issuer,
            subject=account.subject,
            display_name=account.display_name,
            email=account.email,
            status=account.status.value,
            created_at=account.created_at,
            last_sign_in_at=account.last_sign_in_at,
        )


class ProfileUpdate(BaseModel):
    """What an account holder may change about themselves."""

    model_config = ConfigDict(extra="forbid")

    display_name: str = Field(min_length=1, max_length=MAX_DISPLAY_NAME * 4)

    @field_validator("display_name")
    @classmethod
    def _clean(cls, value: str) -> str:
        return clean_display_name(value)


class TokenPair(BaseModel):
    """The API's tokens after a sign-in or a refresh (OAuth 2 token response shape)."""

    model_config = ConfigDict(frozen=True)

    access_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 - the OAuth token type
    expires_in: int
    refresh_token: str
    refresh_expires_in: int
    session_id: uuid.UUID


class SignInStart(BaseModel):
    """Where to send the browser, and what ties the callback to this browser."""

    model_config = ConfigDict(frozen=True)

    authorization_url: str
    state: str
    expires_in: int
    bound_state: str = Field(
        "",
        exclude=True,
        repr=False,
        description=(
            "the sign-in attempt, sealed (encrypted and authenticated): keep it with this "
            "browser only (an HttpOnly cookie) and give it back to complete_sign_in; "
            "never serialized"
        ),
    )
