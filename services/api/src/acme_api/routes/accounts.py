"""The signed-in account."""

from __future__ import annotations

from fastapi import APIRouter

from acme.accounts import interface as accounts
from acme.accounts.serializers import AccountOut, ProfileUpdate
from acme_api.dependencies import AccountsDeps, CurrentAccount
from acme_api.direct_route import DirectRoute

router = APIRouter(prefix="/accounts", tags=["accounts"], route_class=DirectRoute)

_AUTH_ERRORS: dict[int | str, dict[str, str]] = {
    401: {"description": "Missing, invalid or expired token"},
    403: {"description": "Disabled account, or missing CSRF header on a cookie session"},
}


@router.get("/me", summary="My account", responses=_AUTH_ERRORS)
async def get_me(account: CurrentAccount) -> AccountOut:
    """The account the token (or session cookie) belongs to."""
    return AccountOut.of(account)


@router.patch("/me", summary="Change my profile", responses=_AUTH_ERRORS)
async def patch_me(
    change: ProfileUpdate, account: CurrentAccount, deps: AccountsDeps
) -> AccountOut:
    """Change the display name. Cookie sessions must send ``X-CSRF-Token``."""
    return await accounts.update_my_profile(deps, account.id, change)
