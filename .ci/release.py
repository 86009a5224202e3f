"""Release helpers for the per-package workflow (.github/workflows/release.yml).

    python .ci/release.py plan acme-items-v1.2.0
        check the tag names a package whose version source and changelog say
        1.2.0; print name, path, version and the sibling modes to test
    python .ci/release.py install-set --wheel dist/acme_items-1.2.0-py3-none-any.whl \
        --mode lowest --out siblings/
        print what to install to test that wheel: itself (with every extra) and
        its acme siblings at the lowest (or newest) released version its range
        allows, or as in this tree ("tree"); released siblings are built from
        their release tags, so no index credentials are needed to test
    python .ci/release.py test-requirements
        print the pinned test tools of the workspace (hatch.toml)

Release tags are ``<distribution>-v<version>``, e.g. ``acme-core-v1.4.0``.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import InvalidVersion, Version

ROOT = Path(__file__).resolve().parent.parent
RELEASABLE = {
    "acme-core": "packages/acme-core",
    "acme-accounts": "packages/acme-accounts",
    "acme-items": "packages/acme-items",
}
TAG = re.compile(r"^(?P<name>acme-[a-z]+)-v(?P<version>\d+\.\d+\.\d+\S*)$")
TEST_TOOLS = ("pytest", "pytest-asyncio", "httpx", "packaging")


class ReleaseError(Exception):
    """The release cannot go ahead; the message says why."""


def package_version(path: Path) -> str:
    """The version in a package's single version source."""
    data = tomllib.loads((path / "pyproject.toml").read_text())
    source = path / data["tool"]["hatch"]["version"]["path"]
    match = re.search(r'__version__ = "([^"]+)"', source.read_text())
    if not match:
        raise ReleaseError(f"no __version__ in {source}")
    return match.group(1)


def plan(tag: str, root: Path = ROOT) -> dict[str, str]:
    """Check a release tag against the tree; return what the workflow needs to know."""
    match = TAG.match(tag)
    if not match:
        raise ReleaseError(
            f"{tag!r} is not a release tag (<package>-v<version>, e.g. acme-core-v1.4.0)"
        )
    name, version = match.group("name"), match.group("version")
    if name not in RELEASABLE:
        raise ReleaseError(f"{name!r} is not released on its own (one of {', '.join(RELEASABLE)})")
    try:
        Version(version)
    except InvalidVersion as exc:
        raise ReleaseError(f"{version!r} is not a valid version") from exc
    path = root / RELEASABLE[name]
    in_tree = package_version(path)
    if in_tree != version:
        raise ReleaseError(f"tag {tag} says {version}, but {name}'s version source says {in_tree}")
    changelog = (path / "CHANGELOG.md").read_text()
    if not re.search(rf"^## \[{re.escape(version)}\]", changelog, re.MULTILINE):
        raise ReleaseError(f"{name}'s CHANGELOG.md has no section for {version}")
    modes = '["tree"]' if name == "acme-core" else '["lowest", "newest", "tree"]'
    return {"name": name, "path": RELEASABLE[name], "version": version, "modes": modes}


def wheel_metadata(wheel: Path) -> tuple[list[Requirement], list[str]]:
    """A wheel's requirements and extras, read from its METADATA."""
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        lines = archive.read(name).decode().splitlines()
    requires = [
        Requirement(line.split(":", 1)[1]) for line in lines if line.startswith("Requires-Dist:")
    ]
    extras = [line.split(":", 1)[1].strip() for line in lines if line.startswith("Provides-Extra:")]
    return requires, extras


def released_versions(name: str, root: Path = ROOT) -> list[Version]:
    """Versions of ``name`` with a release tag in this repository."""
    tags = subprocess.run(
        ["git", "tag", "--list", f"{name}-v*"], cwd=root, capture_output=True, text=True, check=True
    ).stdout.split()
    versions = []
    for tag in tags:
        match = TAG.match(tag)
        if match and match.group("name") == name:
            try:
                versions.append(Version(match.group("version")))
            except InvalidVersion:
                continue
    return sorted(versions)


def pick(versions: list[Version], requirement: Requirement, mode: str) -> Version | None:
    """The lowest or newest of ``versions`` the requirement allows (None if none does)."""
    allowed = sorted(v for v in versions if requirement.specifier.contains(v, prereleases=False))
    if not allowed:
        return None
    return allowed[0] if mode == "lowest" else allowed[-1]


def build_wheel(source: Path, out: Path) -> Path:
    before = set(out.glob("*.whl"))
    subprocess.run(
        ["uv", "build", "--wheel", "--quiet", "--out-dir", str(out), str(source)], check=True
    )
    (wheel,) = set(out.glob("*.whl")) - before
    return wheel


def build_at_tag(name: str, version: Version, out: Path, root: Path = ROOT) -> Path:
    """Build a sibling's wheel from the source at its release tag."""
    tag = f"{name}-v{version}"
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(
            ["git", "archive", "--format=tar", tag, RELEASABLE[name]],
            cwd=root,
            capture_output=True,
            check=True,
        ).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        return build_wheel(Path(tmp) / RELEASABLE[name], out)


def install_set(wheel: Path, mode: str, out: Path, root: Path = ROOT) -> list[str]:
    """Requirement lines that install ``wheel`` with its acme siblings chosen by ``mode``."""
    out.mkdir(parents=True, exist_ok=True)
    requires, extras = wheel_metadata(wheel)
    suffix = f"[{','.join(extras)}]" if extras else ""
    lines = [f"{wheel.resolve()}{suffix}"]
    for requirement in requires:
        if requirement.marker is not None or requirement.name not in RELEASABLE:
            continue
        if mode == "tree":
            lines.append(str(build_wheel(root / RELEASABLE[requirement.name], out)))
            continue
        chosen = pick(released_versions(requirement.name, root), requirement, mode)
        if chosen is None:
            print(
                f"no released {requirement.name} satisfies {requirement.specifier}; "
                "testing against the tree's",
                file=sys.stderr,
            )
            lines.append(str(build_wheel(root / RELEASABLE[requirement.name], out)))
        else:
            print(f"{mode}: {requirement.name} {chosen}", file=sys.stderr)
            lines.append(str(build_at_tag(requirement.name, chosen, out, root)))
    return lines


def pinned_test_tools(root: Path = ROOT) -> list[str]:
    """The workspace's pinned test tools, from hatch.toml."""
    config = tomllib.loads((root / "hatch.toml").read_text())
    pins = config["envs"]["default"]["dependencies"]
    return [p for p in pins if Requirement(p).name in TEST_TOOLS]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    plan_cmd = commands.add_parser("plan", help="check a release tag, print the plan")
    plan_cmd.add_argument("tag")
    plan_cmd.add_argument("--github-output", type=Path)
    install = commands.add_parser("install-set", help="print what to install to test a wheel")
    install.add_argument("--wheel", type=Path, required=True)
    install.add_argument("--mode", choices=["lowest", "newest", "tree"], required=True)
    install.add_argument("--out", type=Path, required=True)
    commands.add_parser("test-requirements", help="print the pinned test tools")
    args = parser.parse_args(argv)
    try:
        if args.command == "plan":
            result = plan(args.tag)
            text = "".join(f"{key}={value}\n" for key, value in result.items())
            if args.github_output:
                with args.github_output.open("a") as output:
                    output.write(text)
            print(text, end="")
        elif args.command == "install-set":
            print("\n".join(install_set(args.wheel, args.mode, args.out)))
        else:
            print("\n".join(pinned_test_tools()))
    except ReleaseError as exc:
        print(f"release: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
