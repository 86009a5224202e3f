"""acme.core.testing's process-group stop and port probe, on real processes and sockets."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from pathlib import Path

from acme.core.testing import accepts_connections, free_port, stop_process_group, wait_until

# The leader ignores SIGTERM and starts a child in its group, then says the child's pid.
STUBBORN = """
import signal, subprocess, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
print(child.pid, flush=True)
time.sleep(120)
"""


def _alive(pid: int) -> bool:
    stat = Path(f"/proc/{pid}/stat")
    # A killed child reparented to a PID 1 that does not reap stays a zombie: that is dead.
    return stat.exists() and stat.read_text().split(") ", 1)[1][0] != "Z"


def test_the_signal_goes_to_the_group_and_a_willing_leader_exits_by_it() -> None:
    process = subprocess.Popen(["sleep", "120"], start_new_session=True)

    stop_process_group(process, sig=signal.SIGTERM, timeout=30)

    assert process.returncode == -signal.SIGTERM


def test_what_outlives_the_timeout_is_killed_children_included() -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", STUBBORN], stdout=subprocess.PIPE, start_new_session=True
    )
    assert process.stdout is not None
    child = int(process.stdout.readline())

    stop_process_group(process, timeout=0.5)
    process.stdout.close()

    assert process.returncode == -signal.SIGKILL
    # The child (ignoring SIGTERM too: an ignored signal survives exec) dies of the SIGKILL.
    wait_until(lambda: not _alive(child), timeout=10, what=f"child {child} killed")


def test_a_process_already_gone_is_left_alone() -> None:
    process = subprocess.Popen(["true"], start_new_session=True)
    process.wait(timeout=30)

    stop_process_group(process)

    assert process.returncode == 0


def test_accepts_connections_tells_a_listening_port_from_a_free_one() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        assert accepts_connections(server.getsockname()[1])
    assert not accepts_connections(free_port())
