"""The signed-in person's own account: read it, rename it; and disabling an account."""

from __future__ import annotations

import uuid

from acme.core.errors import Invalid

from ._sessions import disabled
from .dependencies import AccountsDependencies
from .serializers import AccountOut, ProfileUpdate

__all__ = ["disable_account", "get_my_account", "update_my_profile"]


async def get_my_account(deps: AccountsDependencies, account_id: uuid.UUID) -> AccountOut:
    """The caller's own account. Raises ``NotFound``."""
    async with deps.read() as uow:
        return AccountOut.of(await uow.accounts.get(account_id))


async def update_my_profile(
    deps: AccountsDependencies, account_id: uuid.UUID, change: ProfileUpdate
) -> AccountOut:
    """Change the caller's display name."""
    async with deps.unit_of_work() as uow:
        account = await uow.accounts.get(account_id)
        if not account.is_active:
            raise disabled()
        try:
            account.rename(change.display_name)
        except ValueError as exc:
            raise Invalid(str(exc), code="invalid_display_name") from None
        await uow.accounts.update(account)
        await uow.commit()
    return AccountOut.of(account)


async def disable_account(deps: AccountsDependencies, account_id: uuid.UUID) -> AccountOut:
    """Disable an account and end all its sessions.

    Its access tokens stop working at once in this process, and within
    ``ACME_SESSION_RECHECK_SECONDS`` in every other.
    """
    async with deps.unit_of_work() as uow:
        account = await uow.accounts.get(account_id)
        account.disable()
        await uow.accounts.update(account)
        await uow.sessions.revoke_all(account.id, reason="account_disabled", now=deps.clock())
        await uow.commit()
    deps.status.forget(account.id)
    return AccountOut.of(account)
