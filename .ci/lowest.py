"""A package's own tests at the lowest versions its requirements declare.

    .ci/release test-lowest acme-core [-- PYTEST ARGS]

Builds the package's wheel from the tree, installs it with every extra into a
fresh venv together with its declared requirements as direct ones, resolved
with ``uv --resolution lowest-direct`` (so ``sqlalchemy[asyncio]>=2.0.40``
installs 2.0.40, while what those need resolves as usual), plus the test
runner (TEST_TOOLS below, exact pins from hatch.toml), then runs the
package's tests. A lower bound that is too low fails here, not at a
consumer's.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Callable
from pathlib import Path

from packaging.requirements import Requirement

TEST_TOOLS = ("pytest", "pytest-asyncio", "pytest-xdist", "hypothesis")


def declared(requires: list[Requirement], extras: list[str]) -> list[str]:
    """The wheel's requirements that apply with every extra, as install lines."""
    lines = []
    for requirement in requires:
        marker = requirement.marker
        if marker is not None and not any(marker.evaluate({"extra": e}) for e in extras):
            continue
        plain = Requirement(str(requirement))
        plain.marker = None
        lines.append(str(plain))
    return lines


def tools(root: Path, skip: set[str]) -> list[str]:
    """The test runner's exact pins from hatch.toml, but for names the package declares."""
    pins = tomllib.loads((root / "hatch.toml").read_text())["envs"]["default"]["dependencies"]
    chosen = [Requirement(p) for p in pins if Requirement(p).name in TEST_TOOLS]
    return [str(r) for r in chosen if r.name not in skip]


def install_lowest(wheel: Path, lines: list[str], venv: Path) -> Path:
    uv = [sys.executable, "-m", "uv"]
    subprocess.run([*uv, "venv", "--quiet", "--clear", "--python", sys.executable, str(venv)],
                   check=True)  # fmt: skip
    python = venv / "bin" / "python"
    requirements = venv / "lowest.txt"
    requirements.write_text("\n".join(lines) + "\n")
    print("installing (--resolution lowest-direct):\n  " + "\n  ".join(lines), flush=True)
    subprocess.run(
        [*uv, "pip", "install", "--quiet", "--python", str(python),
         "--resolution", "lowest-direct", "-r", str(requirements)],
        check=True,
    )  # fmt: skip
    frozen = subprocess.run(
        [*uv, "pip", "freeze", "--python", str(python)], capture_output=True, text=True, check=True
    ).stdout
    names = {Requirement(line).name for line in lines[1:]}
    print("resolved:\n  " + "\n  ".join(
        line for line in frozen.splitlines() if line.split("==")[0].lower() in names
    ), flush=True)  # fmt: skip
    return python


Build = Callable[[Path, Path], list[Path]]
Metadata = Callable[[Path], tuple[str, list[Requirement], list[str]]]


def run_lowest(
    *, name: str, source: Path, build: Build, metadata: Metadata, pytest_args: list[str], root: Path
) -> int:
    """Build ``name`` from ``source``, install it at its lowest requirements, run its tests."""
    with tempfile.TemporaryDirectory() as tmp:
        (wheel,) = build(source, Path(tmp) / "dist")
        dist, requires, extras = metadata(wheel)
        requirements = declared(requires, extras)
        suffix = f"[{','.join(extras)}]" if extras else ""
        lines = [f"{dist}{suffix} @ {wheel.resolve().as_uri()}", *requirements]
        lines += tools(root, {Requirement(r).name for r in requirements})
        python = install_lowest(wheel, lines, root / f".release-venv-lowest-{name}")
    command = [str(python), "-m", "pytest", "-c", str(root / ".pytest.toml"),
               "-p", "no:cacheprovider", str(source / "tests"), *pytest_args]  # fmt: skip
    print("$ " + " ".join(command), flush=True)
    return subprocess.run(command, cwd=root, check=False).returncode
