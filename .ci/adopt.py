"""Adopt a released acme wheel in the API: move its pin, relock, run the API's tests.

    python .ci/adopt.py acme-items 1.0.1 [--no-tests] [-- PYTEST ARGS]

1. checks that acme-items 1.0.1 is released (a release tag, or its release
   commit on this history: see releases.py) and inside the range the API
   declares for it;
2. moves the exact pin in the ``released`` group of services/api/pyproject.toml
   (Renovate moves it itself and then runs this script: an unchanged pin is
   fine);
3. relocks services/api/requirements.lock (and requirements-acme.lock, the
   pins with their wheels' hashes) from the pinned wheels;
4. notes the adoption under Unreleased in services/api/CHANGELOG.md;
5. runs the API's tests on the pinned wheels (``.ci/release test-api``).

Exit status 0 when the API is green on the new pin; 1 when a check or a test
failed (the files stay changed, for a person to look at); 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import InvalidVersion, Version

sys.path.insert(0, str(Path(__file__).resolve().parent))
from release import run_api_tests, stage
from releases import API, RELEASABLE, ROOT, ReleaseError, api_pins, release_commit


def declared_range(name: str, root: Path) -> Requirement:
    data = tomllib.loads((root / API / "pyproject.toml").read_text())
    for line in data["project"]["dependencies"]:
        requirement = Requirement(line)
        if requirement.name == name:
            return requirement
    raise ReleaseError(f"{API}/pyproject.toml does not depend on {name}")


def move_pin(name: str, version: Version, root: Path) -> str | None:
    """Rewrite the pin; return the version it held (None when it already said ``version``)."""
    (old,) = [pin for pin in api_pins(root) if pin.name == name] or [None]
    if old is None:
        raise ReleaseError(f"the API pins no {name} (the 'released' group)")
    (spec,) = old.specifier
    if Version(spec.version) == version:
        return None
    path = root / API / "pyproject.toml"
    pattern = re.compile(rf'"({re.escape(name)}(\[[^\]]*\])?)=={re.escape(spec.version)}"')
    text, count = pattern.subn(rf'"\g<1>=={version}"', path.read_text())
    if count != 1:
        raise ReleaseError(f"{path}: expected one pin {name}=={spec.version}, found {count}")
    path.write_text(text)
    return spec.version


def note_in_changelog(name: str, version: Version, root: Path) -> None:
    path = root / API / "CHANGELOG.md"
    line = f"- Adopted {name} {version}."
    text = path.read_text()
    if line in text:
        return
    head, marker, rest = text.partition("## [Unreleased]\n")
    if not marker:
        raise ReleaseError(f"{path} has no '## [Unreleased]' section")
    section, _, later = rest.partition("\n## [")
    later = f"\n## [{later}" if later else ""
    if "### Changed\n" in section:
        section = section.replace("### Changed\n", f"### Changed\n{line}\n", 1)
    else:
        section = f"\n### Changed\n{line}\n" + section
    path.write_text(head + marker + re.sub(r"\n{3,}", "\n\n", section) + later)


def adopt(
    name: str, version: Version, *, tests: bool, pytest_args: list[str], root: Path = ROOT
) -> int:
    commit = release_commit(name, version, root)
    stage(f"{name} {version} is released (release commit {commit[:12]})")
    declared = declared_range(name, root)
    if not declared.specifier.contains(version, prereleases=True):
        raise ReleaseError(
            f"{name} {version} is outside the API's declared range {declared}: a new major "
            "version needs the API's code and that range changed by hand first"
        )
    old = move_pin(name, version, root)
    stage(f"pin: {name} {old} -> {version}" if old else f"pin: {name} already {version}")
    stage("relock: services/api/requirements.lock from the pinned wheels")
    subprocess.run([sys.executable, str(root / API / "scripts" / "lock.py")], check=True)
    note_in_changelog(name, version, root)
    if not tests:
        return 0
    stage("the API's tests on the new pinned set")
    status = run_api_tests(pytest_args, root)
    stage(f"the API is {'green' if status == 0 else 'RED'} on {name} {version}")
    return 0 if status == 0 else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", choices=list(RELEASABLE))
    parser.add_argument("version")
    parser.add_argument("--no-tests", action="store_true", help="move the pin and relock only")
    parser.add_argument("pytest_args", nargs="*", help="after --: passed to pytest")
    args = parser.parse_args(argv)
    try:
        version = Version(args.version)
    except InvalidVersion:
        parser.error(f"{args.version!r} is not a version")
    try:
        return adopt(args.name, version, tests=not args.no_tests, pytest_args=args.pytest_args)
    except (ReleaseError, subprocess.CalledProcessError) as exc:
        print(f"adopt: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
