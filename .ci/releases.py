"""Which acme versions are released, and their wheels rebuilt from git.

A version V of a package is *released* at its release commit: the first
commit on the first-parent history of ``HEAD`` whose version source says V
and whose ``CHANGELOG.md`` has a ``## [V]`` section. That is the only commit
``release.py plan`` lets a release tag ``<package>-vV`` onto, so tags agree
with it; a tag only adds a version this history does not show. Tags do not
travel with every clone; history does.

The wheels are rebuilt from the package's folder at that commit, with the
pinned build backend (``build-constraints.txt``): hatchling builds
reproducibly, so the rebuilt wheel is the published one byte for byte (the
release rehearsal checks it), and nothing here needs the private index.
Built wheels are cached per commit under ``~/.cache/acme/releases``
(``ACME_RELEASE_CACHE``).

A shallow clone lacks the history: ``git fetch --unshallow`` (or fetch the
release tags) first.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import InvalidVersion, Version

ROOT = Path(__file__).resolve().parent.parent
RELEASABLE = {
    "acme-core": "packages/acme-core",
    "acme-accounts": "packages/acme-accounts",
    "acme-items": "packages/acme-items",
}
API = "services/api"
BUILD_CONSTRAINTS = Path(__file__).resolve().parent / "build-constraints.txt"
# The dependency group of services/api/pyproject.toml that pins the released
# acme wheels the image ships.
PINS_GROUP = "released"
TAG = re.compile(r"^(?P<name>acme(?:-[a-z0-9]+)+)-v(?P<version>\d+\.\d+\.\d+\S*)$")
VERSION_LINE = re.compile(r'^__version__ = "([^"]+)"', re.MULTILINE)
CACHE = Path(
    os.environ.get("ACME_RELEASE_CACHE")
    or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "acme" / "releases"
)


class ReleaseError(Exception):
    """A release step cannot go ahead; the message says why."""


def git(*args: str, root: Path = ROOT) -> str:
    result = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise ReleaseError(f"git {' '.join(args)}: {result.stderr.strip()}")
    return result.stdout


def version_source(name: str, root: Path = ROOT) -> str:
    """The path of a package's version source, relative to the repository."""
    data = tomllib.loads((root / RELEASABLE[name] / "pyproject.toml").read_text())
    return f"{RELEASABLE[name]}/{data['tool']['hatch']['version']['path']}"


def tree_version(name: str, root: Path = ROOT) -> Version:
    """The version in the working tree's version source."""
    text = (root / version_source(name, root)).read_text()
    match = VERSION_LINE.search(text)
    if not match:
        raise ReleaseError(f"no __version__ in {version_source(name, root)}")
    return Version(match.group(1))


def has_changelog_section(changelog: str, version: Version | str) -> bool:
    return re.search(rf"^## \[{re.escape(str(version))}\]", changelog, re.MULTILINE) is not None


def _show(commit: str, path: str, root: Path) -> str | None:
    result = subprocess.run(
        ["git", "show", f"{commit}:{path}"], cwd=root, capture_output=True, text=True, check=False
    )
    return result.stdout if result.returncode == 0 else None


def _history(name: str, root: Path) -> dict[Version, str]:
    """Each version's release commit as history alone says (no tags)."""
    found: dict[Version, str] = {}
    source, changelog_path = version_source(name, root), f"{RELEASABLE[name]}/CHANGELOG.md"
    commits = git(
        "log",
        "--first-parent",
        "--reverse",
        "--format=%H",
        "HEAD",
        "--",
        source,
        changelog_path,
        root=root,
    ).split()
    for commit in commits:
        text, changelog = _show(commit, source, root), _show(commit, changelog_path, root)
        match = VERSION_LINE.search(text or "")
        if not match or changelog is None:
            continue
        try:
            version = Version(match.group(1))
        except InvalidVersion:
            continue
        if version not in found and has_changelog_section(changelog, version):
            found[version] = commit
    return found


@functools.cache
def releases(name: str, root: Path = ROOT) -> dict[Version, str]:
    """Every released version of ``name`` and its release commit.

    History decides; a tag only adds a version history does not show (a
    release commit off this first-parent line). ``release.py plan`` refuses
    a tag anywhere but the commit history names, so published tags agree.
    """
    if name not in RELEASABLE:
        raise ReleaseError(f"{name!r} is not an acme wheel (one of {', '.join(RELEASABLE)})")
    if git("rev-parse", "--is-shallow-repository", root=root).strip() == "true":
        raise ReleaseError(
            "this clone is shallow: the release commits are not in it "
            "(git fetch --unshallow, or fetch the release tags)"
        )
    found = _history(name, root)
    for tag in git("tag", "--list", f"{name}-v*", root=root).split():
        match = TAG.match(tag)
        if not match or match.group("name") != name:
            continue
        try:
            version = Version(match.group("version"))
        except InvalidVersion:
            continue
        found.setdefault(version, git("rev-list", "-n", "1", tag, root=root).strip())
    return dict(sorted(found.items()))


def history_release_commit(name: str, version: Version | str, root: Path = ROOT) -> str | None:
    """The commit history names as ``version``'s release commit (tags ignored), if any."""
    return _history(name, root).get(Version(str(version)))


def release_commit(name: str, version: Version | str, root: Path = ROOT) -> str:
    version = Version(str(version))
    commit = releases(name, root).get(version)
    if commit is None:
        known = ", ".join(map(str, releases(name, root))) or "none"
        raise ReleaseError(
            f"{name} {version} is not released: no tag {name}-v{version} and no commit on "
            f"this history whose version source says {version} with a changelog section for it "
            f"(released: {known})"
        )
    return commit


def build_wheel(source: Path, out: Path, *, sdist: bool = False) -> list[Path]:
    """Build a package's wheel (and sdist) into ``out``; return the new files."""
    out.mkdir(parents=True, exist_ok=True)
    before = set(out.iterdir())
    # The build backend is pinned, so a wheel rebuilt later from its release
    # commit is the published file byte for byte (hatchling records itself).
    command = [sys.executable, "-m", "uv", "build", "--quiet", "--out-dir", str(out)]
    command += ["--build-constraint", str(BUILD_CONSTRAINTS)]
    if not sdist:
        command.append("--wheel")
    result = subprocess.run([*command, str(source)], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise ReleaseError(f"building {source} failed:\n{result.stderr}")
    built = set(out.iterdir()) - before
    return sorted(p for p in built if p.name.endswith((".whl", ".tar.gz")))


def released_wheel(name: str, version: Version | str, root: Path = ROOT) -> Path:
    """The wheel of a released version, rebuilt from its release commit (cached)."""
    commit = release_commit(name, version, root)
    cached = CACHE / f"{name}-{version}-{commit[:12]}"
    wheels = list(cached.glob("*.whl"))
    if wheels:
        return wheels[0]
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(
            ["git", "archive", "--format=tar", commit, RELEASABLE[name]],
            cwd=root,
            capture_output=True,
            check=True,
        ).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        staging = Path(tmp) / "out"
        (wheel,) = build_wheel(Path(tmp) / RELEASABLE[name], staging)
        cached.mkdir(parents=True, exist_ok=True)
        shutil.copy2(wheel, cached / wheel.name)
    return cached / wheel.name


def api_pins(root: Path = ROOT) -> list[Requirement]:
    """The API's exact pins of the released acme wheels."""
    data = tomllib.loads((root / API / "pyproject.toml").read_text())
    pins = [Requirement(line) for line in data.get("dependency-groups", {}).get(PINS_GROUP, [])]
    for pin in pins:
        specifiers = list(pin.specifier)
        if pin.name not in RELEASABLE or len(specifiers) != 1 or specifiers[0].operator != "==":
            raise ReleaseError(f"{API}/pyproject.toml: {pin} is not an exact pin of an acme wheel")
    return pins


def pinned_wheels(root: Path = ROOT) -> list[str]:
    """Install lines for the API's pinned acme wheels, rebuilt from their release commits."""
    lines = []
    for pin in api_pins(root):
        (spec,) = pin.specifier
        wheel = released_wheel(pin.name, spec.version, root)
        extras = f"[{','.join(sorted(pin.extras))}]" if pin.extras else ""
        lines.append(f"{pin.name}{extras} @ {wheel.as_uri()}")
    return lines
