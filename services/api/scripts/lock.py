"""Regenerate ``services/api/requirements.lock``: the image's third-party set, pinned with hashes.

That is what the API and its *pinned released* acme wheels need (the
``released`` dependency group, wheels rebuilt from their release commits by
``.ci/releases.py``), plus the programs the image runs beside it
(``deploy/image-requirements.in``: supervisord). The tree's component
versions play no part: the lock moves only when a pin does
(``.ci/adopt.py``).

The acme wheels themselves are left out of the lock: they come from the
private index, whose versions are immutable, installed with ``--no-deps``.
Third-party packages are installed from this lock with ``--require-hashes``.

Run: ``.venv/bin/hatch run lock``.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

API = Path(__file__).resolve().parents[1]
ROOT = API.parents[1]
sys.path.insert(0, str(ROOT / ".ci"))

from releases import RELEASABLE, pinned_wheels  # noqa: E402


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        pins = Path(tmp) / "released.in"
        pins.write_text("\n".join(pinned_wheels(ROOT)) + "\n")
        command = [sys.executable, "-m", "uv", "pip", "compile", "pyproject.toml", str(pins)]
        command += ["../../deploy/image-requirements.in", "--python-version", "3.11"]
        command += ["--python-platform", "x86_64-manylinux_2_28", "--generate-hashes", "--quiet"]
        for name in RELEASABLE:
            command += ["--no-emit-package", name]
        command += ["--custom-compile-command", ".venv/bin/hatch run lock"]
        subprocess.run([*command, "--output-file", "requirements.lock"], cwd=API, check=True)
    # uv names the temporary input in "via" comments; keep the lock stable.
    lock = API / "requirements.lock"
    lock.write_text(lock.read_text().replace(str(pins), "released (dependency group)"))
    print(f"wrote {lock}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
