"""A per-process memo of what :func:`~acme.accounts.interface.authenticate` reads.

Authentication runs on every request. Its token check is cheap (verified
tokens are cached), but the account-and-session row it reads is a database
round trip. This memo keeps that row for a few seconds, so a busy process
reads each session's row at most once per interval; the checks themselves
(active account, usable session at this instant) still run on every request.

What an interval allows: an account disabled, or a session ended, by
*another* process stays usable for at most ``interval`` seconds there. In
this process every use case that disables or ends a session forgets the
account at once. ``interval=0`` reads the row on every request.
"""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict
from collections.abc import Callable

from .models import Account, RefreshFamily

__all__ = ["StatusMemo"]

Status = tuple[Account, RefreshFamily | None]


class StatusMemo:
    """Remembers (account, session) rows by account and session id for ``interval`` seconds.

    Args:
        interval: Seconds a row is reused; ``0`` disables the memo.
        max_entries: Bound on remembered sessions (least recently used go first).
        clock: Monotonic seconds.
    """

    def __init__(
        self,
        interval: float,
        *,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.interval = interval
        self._max_entries = max_entries
        self._clock = clock
        self._rows: OrderedDict[tuple[uuid.UUID, uuid.UUID | None], tuple[float, Status]] = (
            OrderedDict()
        )

    def get(self, account_id: uuid.UUID, session_id: uuid.UUID | None) -> Status | None:
        """The remembered row, or ``None`` when there is none younger than the interval."""
        if self.interval <= 0:
            return None
        key = (account_id, session_id)
        entry = self._rows.get(key)
        if entry is None:
            return None
        if self._clock() - entry[0] >= self.interval:
            del self._rows[key]
            return None
        self._rows.move_to_end(key)
        return entry[1]

    def put(self, account_id: uuid.UUID, session_id: uuid.UUID | None, status: Status) -> None:
        """Remember a row just read from the database."""
        if self.interval <= 0:
            return
        self._rows[(account_id, session_id)] = (self._clock(), status)
        self._rows.move_to_end((account_id, session_id))
        while len(self._rows) > self._max_entries:
            self._rows.popitem(last=False)

    def forget(self, account_id: uuid.UUID) -> None:
        """Drop every row of one account (after it was disabled or a session ended)."""
        for key in [key for key in self._rows if key[0] == account_id]:
            del self._rows[key]

    def forget_session(self, session_id: uuid.UUID) -> None:
        """Drop the rows of one session (after it was ended)."""
        for key in [key for key in self._rows if key[1] == session_id]:
            del self._rows[key]

    def clear(self) -> None:
        """Drop everything."""
        self._rows.clear()
