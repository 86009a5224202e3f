"""Build every wheel and check what it ships.

- no wheel contains ``acme/__init__.py`` (PEP 420: the namespace is shared);
- each acme wheel ships ``py.typed`` and only files under its own package;
- components depend on acme-core with a range and never on each other;
- with ``--install``: each wheel installs alone into a fresh venv and imports,
  and all three together import side by side.

Exit status 1 with one line per problem.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = {
    "acme-core": "acme/core",
    "acme-accounts": "acme/accounts",
    "acme-items": "acme/items",
}
REQUIRED_FILES = {
    "acme-core": [
        "acme/core/migrations/alembic/env.py",
        "acme/core/migrations/alembic/script.py.mako",
    ],
    "acme-accounts": ["acme/accounts/migrations/__init__.py"],
    "acme-items": ["acme/items/migrations/__init__.py"],
}


def build(project: Path, out: Path, dist: str) -> Path:
    subprocess.run(
        ["uv", "build", "--wheel", "--quiet", "--out-dir", str(out), str(project)],
        check=True,
    )
    name = dist.replace("-", "_")
    wheels = sorted(out.glob(f"{name}-*.whl"))
    if not wheels:
        raise SystemExit(f"no wheel built for {project}")
    return wheels[-1]


def inspect(dist: str, wheel: Path) -> list[str]:
    problems = []
    prefix = PACKAGES[dist]
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata = next(
            archive.read(n).decode() for n in names if n.endswith(".dist-info/METADATA")
        )
    if "acme/__init__.py" in names:
        problems.append(f"{wheel.name}: ships acme/__init__.py (breaks the shared namespace)")
    if f"{prefix}/py.typed" not in names:
        problems.append(f"{wheel.name}: lacks {prefix}/py.typed")
    for required in REQUIRED_FILES[dist]:
        if required not in names:
            problems.append(f"{wheel.name}: lacks {required}")
    strays = [n for n in names if not n.startswith(f"{prefix}/") and ".dist-info/" not in n]
    if strays:
        problems.append(f"{wheel.name}: files outside {prefix}/: {', '.join(strays[:5])}")
    requires = [
        line.split(":", 1)[1].strip()
        for line in metadata.splitlines()
        if line.startswith("Requires-Dist:")
    ]
    for other in PACKAGES:
        if other == dist:
            continue
        refs = [r for r in requires if r.split(";")[0].replace(" ", "").startswith(other)]
        if dist != "acme-core" and other != "acme-core" and refs:
            problems.append(f"{wheel.name}: depends on sibling component {other}")
        if dist != "acme-core" and other == "acme-core":
            if not refs:
                problems.append(f"{wheel.name}: does not declare acme-core")
            elif "<" not in refs[0] or ">=" not in refs[0]:
                problems.append(
                    f"{wheel.name}: acme-core must be a compatible range, got {refs[0]!r}"
                )
    return problems


def install_check(wheels: dict[str, Path], work: Path) -> list[str]:
    problems = []
    find_links = str(next(iter(wheels.values())).parent)
    cases = [(dist, [dist]) for dist in wheels] + [("all three", list(wheels))]
    for label, dists in cases:
        venv = work / f"venv-{label.replace(' ', '-')}"
        subprocess.run(["uv", "venv", "--quiet", "--python", sys.executable, str(venv)], check=True)
        python = venv / "bin" / "python"
        result = subprocess.run(  # noqa: PLW1510 - the return code is inspected
            ["uv", "pip", "install", "--quiet", "--python", str(python), "--find-links", find_links]
            + [str(wheels[d]) for d in dists],
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            problems.append(f"{label}: install failed: {result.stderr.strip()[-400:]}")
            continue
        modules = ", ".join(PACKAGES[d].replace("/", ".") for d in dists)
        probe = subprocess.run(  # noqa: PLW1510 - the return code is inspected
            [str(python), "-c", f"import {modules}; import acme; print(list(acme.__path__))"],
            capture_output=True,
            text=True,
        )
        if probe.returncode != 0:
            problems.append(f"{label}: import {modules} failed: {probe.stderr.strip()[-400:]}")
        else:
            print(f"ok: {label}: installed into a fresh venv, imports {modules}")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--install", action="store_true", help="also install into fresh venvs")
    parser.add_argument("--out", type=Path, help="keep the wheels in this directory")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp) / "dist"
        out.mkdir(parents=True, exist_ok=True)
        wheels = {dist: build(ROOT / "packages" / dist, out, dist) for dist in PACKAGES}
        problems = [p for dist, wheel in wheels.items() for p in inspect(dist, wheel)]
        api = build(ROOT / "services" / "api", out, "acme-api")
        with zipfile.ZipFile(api) as archive:
            if any(n.startswith("acme/") for n in archive.namelist()):
                problems.append(f"{api.name}: ships files under acme/")
        for _dist, wheel in wheels.items():
            print(f"built {wheel.name}")
        if args.install and not problems:
            problems += install_check(wheels, Path(tmp))
    for problem in problems:
        print(f"FAIL: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
