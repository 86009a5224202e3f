"""Debian packages the runner drives (wrk, nginx): found on PATH, or installed when possible."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

__all__ = ["MissingTool", "debian_tool"]


class MissingTool(RuntimeError):
    """A program is absent and could not be installed; the message says how to get it."""


def _apt_get(*args: str) -> bool:
    completed = subprocess.run(
        ["apt-get", *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
    )
    return completed.returncode == 0


def debian_tool(program: str, package: str) -> str:
    """The path of ``program``; as root on Debian, ``apt-get install package`` first if needed.

    Raises:
        MissingTool: it is not installed and could not be.
    """
    for candidate in (shutil.which(program), f"/usr/sbin/{program}", f"/usr/bin/{program}"):
        if candidate and Path(candidate).exists():
            return candidate
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print(f"{program} is not installed: apt-get install {package}")
        if _apt_get("install", "-y", "-q", package) or (
            _apt_get("update", "-q") and _apt_get("install", "-y", "-q", package)
        ):
            found = shutil.which(program) or f"/usr/sbin/{program}"
            if Path(found).exists():
                return found
    raise MissingTool(f"{program} is not installed: apt-get install {package} (Debian's package)")
