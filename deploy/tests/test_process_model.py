"""One supervisor per environment, with the real programs.

The image: tini is PID 1 and gunicorn its only child (deploy/Dockerfile's
ENTRYPOINT and CMD, run as written); when gunicorn cannot start, or dies, the
process tree ends with a failure, so the container runtime restarts it.
A VM: supervisord (deploy/vm/supervisord.conf) restarts gunicorn, and a
gunicorn that cannot be started at all (FATAL) ends supervisord with a failure.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from stackkit import DOCKERFILE, ApiUnderSupervisor, InImage, image_command

from acme.core.testing import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.system, pytest.mark.operations]

# Production settings with nothing configured: every worker stops at boot with
# the configuration's problems, as a real misconfiguration does.
CANNOT_START = {"ACME_ENV": "production", "ACME_SECRETS": "env"}


@pytest.fixture
def root() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="acme-process-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def exit_status(process: subprocess.Popen[bytes], timeout: float) -> int:
    try:
        return process.wait(timeout=timeout)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)


def test_a_plain_build_makes_the_runtime_image_and_it_runs_tini_then_gunicorn() -> None:
    stages = re.findall(r"^FROM\s+\S+\s+AS\s+(\S+)\s*$", DOCKERFILE.read_text(), re.MULTILINE)
    assert stages[-1] == "runtime", stages
    assert "test" in stages
    assert image_command() == [
        "tini",
        "--",
        "gunicorn",
        "--config",
        "python:acme_api.gunicorn_conf",
    ]
    instructions = [
        line for line in DOCKERFILE.read_text().splitlines() if not line.startswith("#")
    ]
    assert not [line for line in instructions if "supervisor" in line]


def test_a_server_that_cannot_start_ends_the_image_process_tree(root: Path, tini: str) -> None:
    server = InImage(root, env=CANNOT_START, workers=1)
    server.launch()
    assert server.process is not None
    status = exit_status(server.process, timeout=60)

    assert status != 0
    assert not group_alive(server.process.pid), "a process of the tree outlived tini"
    assert "Worker failed to boot" in server.log.read_text()
    assert "ACME_DATABASE_URL" in server.log.read_text()


def _children(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/task/{pid}/children").read_text().split()


def test_a_dead_server_ends_the_container(root: Path, tini: str) -> None:
    server = InImage(root, env={"ACME_ENV": "development"}, workers=1, ready_path="/health/live")
    workers: list[int] = []
    try:
        server.start()
        assert server.process is not None
        init = server.process.pid
        children = _children(init)
        assert len(children) == 1, "tini should have one child, gunicorn's master"
        master = int(children[0])
        workers = [int(pid) for pid in _children(master)]
        os.kill(master, signal.SIGKILL)
        status = exit_status(server.process, timeout=30)
    finally:
        server.stop()
        # In a container the workers end with its PID namespace when tini exits; here
        # they would outlive the test as orphans of the host's init.
        for pid in workers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    # tini reports a child killed by a signal as 128 + the signal's number.
    assert status == 128 + signal.SIGKILL
    assert not group_alive(init)


def test_a_fatal_program_ends_the_vm_supervisord_with_a_failure(root: Path) -> None:
    server = ApiUnderSupervisor(root, env=CANNOT_START, workers=1)
    server.launch()
    assert server.process is not None
    # startretries=3 with supervisord's backoff (1 s, 2 s, 3 s): FATAL within about 10 s.
    status = exit_status(server.process, timeout=90)
    listener_log = (root / "logs" / "exit_on_fatal.log").read_text()

    assert status != 0, "supervisord exited cleanly: its supervisor would not restart it"
    assert "api is FATAL" in listener_log
    assert "gave up: api entered FATAL state" in (root / "logs" / "supervisord.log").read_text()
    wait_until(
        lambda: not group_alive(server.process.pid) if server.process else True,
        timeout=10,
        what="supervisord's process group to end",
    )
