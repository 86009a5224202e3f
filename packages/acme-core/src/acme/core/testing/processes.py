"""Servers started in a session of their own, stopped as a whole process group."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess

__all__ = ["stop_process_group"]


def stop_process_group(
    process: subprocess.Popen[bytes], *, sig: int = signal.SIGTERM, timeout: float = 60.0
) -> None:
    """Signal the group of a process started with ``start_new_session=True``, then kill it.

    ``sig`` goes to the whole group (a server and its workers); whatever is left of the
    group after ``timeout`` seconds, or once the leader has exited, gets SIGKILL, so no
    worker outlives the test or the benchmark that started it.
    """
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=timeout)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=10)
