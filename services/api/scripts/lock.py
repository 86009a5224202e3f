"""Regenerate ``services/api/requirements.lock``: the image's third-party set, pinned with hashes.

That is what the API and its *pinned released* acme wheels need (the
``released`` dependency group, wheels rebuilt from their release commits by
``.ci/releases.py``), plus the programs the image runs beside it
(``deploy/image-requirements.in``: supervisord). The tree's component
versions play no part: the lock moves only when a pin does
(``.ci/adopt.py``).

The acme wheels themselves are left out of that lock: they come from the
private index, installed with ``--no-deps`` from ``requirements-acme.lock``,
written here too: each pin with the sha256 of its wheel rebuilt from its
release commit (byte for byte the published file), so the image build
checks the acme wheels against their hashes like the third-party ones.

Run: ``.venv/bin/hatch run lock``.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tempfile
from pathlib import Path

API = Path(__file__).resolve().parents[1]
ROOT = API.parents[1]
sys.path.insert(0, str(ROOT / ".ci"))

from releases import RELEASABLE, api_pins, pinned_wheels, released_wheel  # noqa: E402


def write_acme_lock(path: Path) -> None:
    """The API's acme pins with the hashes of their released wheels."""
    lines = [
        "# The API's pinned acme wheels with the sha256 of each released wheel.",
        "# Generated with requirements.lock: .venv/bin/hatch run lock",
    ]
    for pin in api_pins(ROOT):
        (spec,) = pin.specifier
        wheel = released_wheel(pin.name, spec.version, ROOT)
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        lines.append(f"{pin.name}=={spec.version} \\\n    --hash=sha256:{digest}")
    path.write_text("\n".join(lines) + "\n")


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
    write_acme_lock(API / "requirements-acme.lock")
    print(f"wrote {lock} and requirements-acme.lock")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
