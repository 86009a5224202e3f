"""Regenerate ``services/api/requirements.lock``: the image's third-party set, pinned with hashes.

That is the API's dependencies plus the programs the image runs beside it
(``deploy/image-requirements.in``: supervisord).

The acme wheels are left out of the lock on purpose: the API pins their exact
versions in its pyproject, and they come from the private index, whose
versions are immutable. Third-party packages are installed from this lock
with ``--require-hashes``; the acme wheels then with ``--no-deps``.

Run: ``.venv/bin/hatch run lock``.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

API = Path(__file__).resolve().parents[1]
ROOT = API.parents[1]
WHEELS = ["packages/acme-core", "packages/acme-accounts", "packages/acme-items"]


def main() -> int:
    with tempfile.TemporaryDirectory() as wheels:
        for project in WHEELS:
            subprocess.run(
                ["uv", "build", "--wheel", "--quiet", "--out-dir", wheels, str(ROOT / project)],
                check=True,
            )
        subprocess.run(
            [
                "uv",
                "pip",
                "compile",
                "pyproject.toml",
                "../../deploy/image-requirements.in",
                "--find-links",
                wheels,
                "--no-emit-find-links",
                "--python-version",
                "3.11",
                "--python-platform",
                "x86_64-manylinux_2_28",
                "--generate-hashes",
                "--quiet",
                "--no-emit-package",
                "acme-core",
                "--no-emit-package",
                "acme-accounts",
                "--no-emit-package",
                "acme-items",
                "--custom-compile-command",
                ".venv/bin/hatch run lock",
                "--output-file",
                "requirements.lock",
            ],
            cwd=API,
            check=True,
        )
    print(f"wrote {API / 'requirements.lock'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
