"""The accounts use cases: the one entry point the API (or any caller) uses.

Each takes :class:`~acme.accounts.dependencies.AccountsDependencies` and
plain values, runs in units of work of :mod:`acme.accounts.ports`, and raises
:mod:`acme.core.errors` types. They live in modules by responsibility:
signing in (``_sign_in``), sessions and authentication (``_sessions``), and
the account itself (``_profile``).
"""

from __future__ import annotations

from ._profile import disable_account, get_my_account, update_my_profile
from ._sessions import authenticate, refresh, sign_out
from ._sign_in import SignedIn, begin_sign_in, complete_sign_in, issue_local_token

__all__ = [
    "SignedIn",
    "authenticate",
    "begin_sign_in",
    "complete_sign_in",
    "disable_account",
    "get_my_account",
    "issue_local_token",
    "refresh",
    "sign_out",
    "update_my_profile",
]
