"""Every step of a package release, one command each (.github/workflows/release.yml).

Run through ``.ci/release`` (it installs the pinned release tools first):

    .ci/release prepare acme-items patch
        bump the version source (major, minor, patch, or an exact version; the
        current one for a first release) and move the changelog's Unreleased
        entries under a section for the new version: the release commit
    .ci/release plan acme-items-v1.0.1
        refuse a tag that is not on main, or whose version source or changelog
        disagree with it; print name, path, version and the sibling modes
    .ci/release build packages/acme-items --out dist
        the wheel and sdist of that package only
    .ci/release test --wheel dist/acme_items-1.0.1-py3-none-any.whl --mode lowest
        a fresh venv with the wheel, its acme siblings at the lowest (newest)
        released version its range allows or as in this tree, with every
        extra, and the test tools; then the package's own tests
    .ci/release publish dist/*
        upload to the index in UV_PUBLISH_URL; files the index already has
        (UV_PUBLISH_CHECK_URL) are skipped, so a re-run after a partial upload
        succeeds, and a different file under a released version is refused
    .ci/release test-api [-- PYTEST ARGS]
        the API's tests against its pinned released wheels (rebuilt from their
        release commits, see releases.py) and the image's lock
    .ci/release adopt acme-items 1.0.1 [-- PYTEST ARGS]
        the API adopts a release (.ci/adopt.py): pin, relock, tests
    .ci/release where acme-items 1.0.1
        the release commit of a released version and its rebuilt wheel
    .ci/release releases acme-items
        every released version and its release commit
    .ci/release api-diff acme-items
        the public names (``__all__`` of public modules, see surface.py) the
        tree removed or whose signature it changed (griffe, see api_diff.py)
        since the package's last release; plan refuses such a release unless
        it is a major one
    .ci/release sbom dist/*.whl --out dist [--find-links DIR --no-index]
        a CycloneDX SBOM per wheel (WHEEL.cdx.json): the wheel with every
        extra, its tree siblings and their dependencies in a fresh venv
    .ci/release test-lowest acme-core [-- PYTEST ARGS]
        the package's tests at the lowest versions its requirements declare
        (uv --resolution lowest-direct; see lowest.py)
    .ci/release image-wheels DIR
        the image's "tree" wheels: the acme wheels and the API built from
        the tree, and DIR/requirements.txt with their hashes (deploy/Dockerfile
        with --build-arg ACME_WHEELS=tree --build-context acme-wheels=DIR)

Release tags are ``<distribution>-v<version>``, e.g. ``acme-core-v1.4.0``.
"""

from __future__ import annotations

import argparse
import datetime
import os
import re
import subprocess
import sys
import tempfile
import tomllib
import urllib.parse
import zipfile
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import InvalidVersion, Version

sys.path.insert(0, str(Path(__file__).resolve().parent))
import loopback
from api_diff import ApiDiff, api_diff
from lowest import run_lowest
from releases import (
    API,
    RELEASABLE,
    ROOT,
    TAG,
    ReleaseError,
    api_pins,
    build_wheel,
    git,
    has_changelog_section,
    history_release_commit,
    pinned_wheels,
    release_commit,
    released_wheel,
    releases,
    tree_version,
    version_source,
)
from sbom import environment_sbom
from surface import removed_names, surface

LOCK = ROOT / API / "requirements.lock"


def stage(text: str) -> None:
    print(f"release: {text}", flush=True)


def next_version(current: Version, part: str) -> Version:
    if part in ("major", "minor", "patch"):
        major, minor, patch = current.release[:3]
        return Version(
            {
                "major": f"{major + 1}.0.0",
                "minor": f"{major}.{minor + 1}.0",
                "patch": f"{major}.{minor}.{patch + 1}",
            }[part]
        )
    try:
        return Version(part)
    except InvalidVersion as exc:
        raise ReleaseError(f"{part!r} is neither major, minor, patch nor a version") from exc


def prepare(name: str, part: str, *, today: datetime.date, root: Path = ROOT) -> Version:
    """Bump the version source and cut the changelog section: the release commit's change."""
    if name not in RELEASABLE:
        raise ReleaseError(f"{name!r} is not released on its own (one of {', '.join(RELEASABLE)})")
    current, released = tree_version(name, root), releases(name, root)
    new = next_version(current, part)
    if new in released:
        raise ReleaseError(f"{name} {new} is released already (at {released[new][:12]})")
    if new < current or (new == current and released):
        raise ReleaseError(f"{name} {new} does not follow the tree's {current}")
    path = root / RELEASABLE[name] / "CHANGELOG.md"
    changelog = path.read_text()
    if "## [Unreleased]" not in changelog:
        raise ReleaseError(f"{path} has no '## [Unreleased]' section")
    if has_changelog_section(changelog, new):
        raise ReleaseError(f"{path} has a section for {new} already")
    unreleased = changelog.split("## [Unreleased]", 1)[1].split("\n## [", 1)[0]
    if not unreleased.strip():
        raise ReleaseError(f"{path}: nothing under Unreleased to release")
    changelog = changelog.replace(
        "## [Unreleased]\n", f"## [Unreleased]\n\n## [{new}] - {today.isoformat()}\n", 1
    )
    path.write_text(re.sub(r"\n{3,}", "\n\n", changelog))
    source = root / version_source(name, root)
    source.write_text(
        re.sub(r'__version__ = "[^"]+"', f'__version__ = "{new}"', source.read_text(), count=1)
    )
    return new


def plan(tag: str, *, main: str, root: Path = ROOT) -> dict[str, str]:
    """Check a release tag against the tree and main; return what the workflow needs."""
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
    in_tree = tree_version(name, root)
    if str(in_tree) != version:
        raise ReleaseError(f"tag {tag} says {version}, but {name}'s version source says {in_tree}")
    if not has_changelog_section((root / RELEASABLE[name] / "CHANGELOG.md").read_text(), version):
        raise ReleaseError(f"{name}'s CHANGELOG.md has no section for {version}")
    _refuse_removals(name, Version(version), root)
    head = git("rev-parse", "HEAD", root=root).strip()
    merged = subprocess.run(
        ["git", "merge-base", "--is-ancestor", head, main],
        cwd=root,
        capture_output=True,
        check=False,
    )
    if merged.returncode != 0:
        raise ReleaseError(f"{tag} ({head[:12]}) is not on {main}: only main is released")
    expected = history_release_commit(name, version, root)
    if expected != head:
        where = f"the release commit is {expected[:12]}" if expected else "no release commit"
        raise ReleaseError(
            f"{tag} is on {head[:12]}, but {where}: the first commit on main's first-parent "
            f"history whose version source says {version} with its changelog section"
        )
    modes = '["tree"]' if name == "acme-core" else '["lowest", "newest", "tree"]'
    return {"name": name, "path": RELEASABLE[name], "version": version, "modes": modes}


def previous_release(name: str, version: Version, root: Path = ROOT) -> Version | None:
    """The highest released version of ``name`` below ``version``."""
    earlier = [v for v in releases(name, root) if v < version]
    return max(earlier) if earlier else None


def removals_since_release(name: str, version: Version, root: Path = ROOT) -> list[str]:
    """Public names of the previous release that the tree no longer has."""
    previous = previous_release(name, version, root)
    if previous is None:
        return []
    old = surface(name, release_commit(name, previous, root), root)
    return removed_names(old, surface(name, None, root))


def breaks_since_release(name: str, version: Version, root: Path = ROOT) -> ApiDiff:
    """Public names of the previous release that the tree removed or changed (api_diff.py)."""
    previous = previous_release(name, version, root)
    if previous is None:
        return ApiDiff()
    return api_diff(name, release_commit(name, previous, root), root)


def _refuse_removals(name: str, version: Version, root: Path) -> None:
    previous = previous_release(name, version, root)
    if previous is None or version.major > previous.major:
        return
    broken = breaks_since_release(name, version, root).breaks
    if broken:
        listed = "; ".join(broken[:10]) + (
            f" and {len(broken) - 10} more" if len(broken) > 10 else ""
        )
        raise ReleaseError(
            f"{name} {version} removes or changes public names of {previous} ({listed}): "
            f"that is a major release ({previous.major + 1}.0.0), or keep them, deprecated"
        )


def wheel_metadata(wheel: Path) -> tuple[str, list[Requirement], list[str]]:
    """A wheel's name, requirements and extras, read from its METADATA."""
    with zipfile.ZipFile(wheel) as archive:
        member = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        lines = archive.read(member).decode().splitlines()
    field = {line.split(":", 1)[0]: line.split(":", 1)[1].strip() for line in lines if ":" in line}
    requires = [
        Requirement(line.split(":", 1)[1]) for line in lines if line.startswith("Requires-Dist:")
    ]
    extras = [line.split(":", 1)[1].strip() for line in lines if line.startswith("Provides-Extra:")]
    return field["Name"], requires, extras


def with_extras(name: str, wheel: Path) -> str:
    """An install line for a wheel with every extra it provides (the tests need the drivers)."""
    _, _, extras = wheel_metadata(wheel)
    suffix = f"[{','.join(extras)}]" if extras else ""
    return f"{name}{suffix} @ {wheel.resolve().as_uri()}"


def install_set(wheel: Path, mode: str, out: Path, root: Path = ROOT) -> list[str]:
    """Install lines for ``wheel`` and its acme siblings chosen by ``mode``."""
    name, requires, _ = wheel_metadata(wheel)
    lines = [with_extras(name, wheel)]
    for requirement in requires:
        if requirement.marker is not None or requirement.name not in RELEASABLE:
            continue
        if mode == "tree":
            (sibling,) = build_wheel(root / RELEASABLE[requirement.name], out)
            stage(f"{requirement.name}: the tree's {tree_version(requirement.name, root)}")
        else:
            allowed = [
                v
                for v in releases(requirement.name, root)
                if requirement.specifier.contains(v, prereleases=False)
            ]
            if not allowed:
                raise ReleaseError(f"no released {requirement.name} satisfies {requirement}")
            chosen = allowed[0] if mode == "lowest" else allowed[-1]
            stage(f"{requirement.name}: the {mode} released version its range allows, {chosen}")
            sibling = released_wheel(requirement.name, chosen, root)
        lines.append(with_extras(requirement.name, sibling))
    return lines


def tool_pins(root: Path = ROOT) -> list[str]:
    """The workspace's pinned test tools (hatch.toml's default environment)."""
    config = tomllib.loads((root / "hatch.toml").read_text())
    return list(config["envs"]["default"]["dependencies"])


def uv(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "uv", *args], check=True)


def fresh_venv(path: Path, requirements: list[str], *, extra: tuple[str, ...] = ()) -> Path:
    uv("venv", "--quiet", "--clear", "--python", sys.executable, str(path))
    python = path / "bin" / "python"
    requirements_file = path / "install.txt"
    requirements_file.write_text("\n".join(requirements) + "\n")
    stage(f"installing into {path}:\n  " + "\n  ".join(requirements))
    uv("pip", "install", "--quiet", "--python", str(python), "-r", str(requirements_file), *extra)
    return python


def run_tests(python: Path, paths: list[str], pytest_args: list[str], root: Path) -> int:
    command = [
        str(python),
        "-m",
        "pytest",
        "-c",
        str(root / ".pytest.toml"),
        "-p",
        "no:cacheprovider",
        *paths,
        *pytest_args,
    ]
    stage("$ " + " ".join(command))
    return subprocess.run(command, cwd=root, check=False).returncode


def run_wheel_tests(wheel: Path, mode: str, pytest_args: list[str], root: Path = ROOT) -> int:
    """The package's own tests against the built wheel and the siblings ``mode`` picks."""
    name, _, _ = wheel_metadata(wheel)
    with tempfile.TemporaryDirectory() as siblings:
        lines = install_set(wheel, mode, Path(siblings), root)
        python = fresh_venv(root / f".release-venv-{mode}", [*lines, *tool_pins(root)])
    return run_tests(python, [f"{RELEASABLE[name]}/tests"], pytest_args, root)


def run_api_tests(pytest_args: list[str], root: Path = ROOT) -> int:
    """The API's tests on its pinned released wheels, with the image's lock as constraints."""
    lines = pinned_wheels(root)
    for line in lines:
        stage(f"pinned: {line}")
    venv = root / ".venv-pinned"
    # The API itself from this tree, editable: its acme ranges are met by the
    # pinned wheels above, whatever versions the tree holds.
    requirements = [*lines, f"-e {root / API}", *tool_pins(root)]
    python = fresh_venv(venv, requirements, extra=("-c", str(LOCK)))
    uv("pip", "check", "--python", str(python))
    named = any((root / arg.split("::")[0]).exists() for arg in pytest_args)
    return run_tests(python, [] if named else [f"{API}/tests"], pytest_args, root)


def differing_pins(root: Path = ROOT) -> list[str]:
    """The pins whose wheel sources at the release commit are not the working tree's.

    A wheel holds its package's ``src/`` and the metadata of its
    ``pyproject.toml``; tests, README and changelog do not change it.
    """
    differing = []
    for pin in api_pins(root):
        (spec,) = pin.specifier
        commit = release_commit(pin.name, spec.version, root)
        sources = [f"{RELEASABLE[pin.name]}/src", f"{RELEASABLE[pin.name]}/pyproject.toml"]
        same = subprocess.run(
            ["git", "diff", "--quiet", commit, "--", *sources], cwd=root, check=False
        )
        if same.returncode != 0:
            differing.append(f"{pin.name}=={spec.version}")
    return differing


def _with_credentials(url: str) -> str:
    """The check URL with the upload credentials (uv sends none to it by itself)."""
    user, password = os.environ.get("UV_PUBLISH_USERNAME"), os.environ.get("UV_PUBLISH_PASSWORD")
    parts = urllib.parse.urlsplit(url)
    if parts.username or not user or not password:
        return url
    netloc = f"{urllib.parse.quote(user, safe='')}:{urllib.parse.quote(password, safe='')}@"
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc + parts.netloc))


def publish(files: list[Path]) -> int:
    """Upload to the index; files it already holds are skipped, other files refused."""
    for variable in ("UV_PUBLISH_URL", "UV_PUBLISH_CHECK_URL"):
        if not os.environ.get(variable):
            raise ReleaseError(f"{variable} is not set")
    if not files:
        raise ReleaseError("nothing to publish")
    env = {
        **os.environ,
        "UV_PUBLISH_CHECK_URL": _with_credentials(os.environ["UV_PUBLISH_CHECK_URL"]),
    }
    command = [sys.executable, "-m", "uv", "publish", *map(str, files)]
    stage("$ uv publish " + " ".join(f.name for f in files))
    return subprocess.run(command, env=env, check=False).returncode


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    today = datetime.datetime.now(datetime.UTC).date()
    cmd = commands.add_parser("prepare", help="bump the version and cut the changelog section")
    cmd.add_argument("name", choices=list(RELEASABLE))
    cmd.add_argument("part", help="major, minor, patch, or a version")
    cmd.add_argument("--date", type=datetime.date.fromisoformat, default=today)
    cmd = commands.add_parser("plan", help="check a release tag, print the plan")
    cmd.add_argument("tag")
    cmd.add_argument("--main", default="origin/main", help="the ref a release tag must be on")
    cmd.add_argument("--github-output", type=Path)
    cmd = commands.add_parser("build", help="build one package's wheel and sdist")
    cmd.add_argument("path", type=Path)
    cmd.add_argument("--out", type=Path, default=Path("dist"))
    cmd = commands.add_parser("test", help="test a built wheel against its siblings")
    cmd.add_argument("--wheel", type=Path, required=True)
    cmd.add_argument("--mode", choices=["lowest", "newest", "tree"], required=True)
    cmd.add_argument("pytest_args", nargs="*")
    cmd = commands.add_parser("publish", help="upload to the private index")
    cmd.add_argument("files", type=Path, nargs="+")
    cmd = commands.add_parser("test-api", help="the API's tests on its pinned released wheels")
    cmd.add_argument("pytest_args", nargs="*")
    cmd = commands.add_parser("pinned", help="print the API's pinned wheels, rebuilt from git")
    cmd.add_argument(
        "--differing",
        action="store_true",
        help="only the pins whose package folder differs from the working tree",
    )
    cmd = commands.add_parser("releases", help="a package's released versions and commits")
    cmd.add_argument("name", choices=list(RELEASABLE))
    cmd = commands.add_parser("where", help="a released version's commit and rebuilt wheel")
    cmd.add_argument("name", choices=list(RELEASABLE))
    cmd.add_argument("version")
    cmd = commands.add_parser(
        "api-diff", help="public names removed or changed since the last release"
    )
    cmd.add_argument("name", choices=list(RELEASABLE))
    cmd = commands.add_parser("sbom", help="a CycloneDX SBOM for each wheel")
    cmd.add_argument("wheels", nargs="+", type=Path)
    cmd.add_argument("--out", type=Path, default=Path("dist"))
    cmd.add_argument("--find-links", type=Path, action="append", default=[])
    cmd.add_argument("--no-index", action="store_true", help="only the --find-links directories")
    cmd = commands.add_parser("test-lowest", help="tests at the lowest declared requirements")
    cmd.add_argument("name", choices=list(RELEASABLE))
    cmd.add_argument("pytest_args", nargs="*")
    cmd = commands.add_parser("image-wheels", help="the tree's wheels for the image, hashed")
    cmd.add_argument("out", type=Path)
    cmd = commands.add_parser("adopt", add_help=False, help="the API adopts a release")
    cmd.add_argument("adopt_args", nargs=argparse.REMAINDER)
    return parser


def wheel_sbom(wheel: Path, out: Path, *, find_links: list[Path], no_index: bool) -> Path:
    """The SBOM of ``wheel`` as installed: every extra, tree siblings, dependencies."""
    extra = tuple(f"--find-links={d.resolve()}" for d in find_links)
    extra += ("--no-index",) if no_index else ()
    with tempfile.TemporaryDirectory() as tmp:
        lines = install_set(wheel, "tree", Path(tmp) / "siblings")
        python = fresh_venv(Path(tmp) / "venv", lines, extra=extra)
        document = out / f"{wheel.name}.cdx.json"
        summary = environment_sbom(python, document)
    stage(f"{document}: {summary['components']} components, valid CycloneDX")
    return document


def _sbom(args: argparse.Namespace) -> int:
    for wheel in args.wheels:
        wheel_sbom(wheel, args.out, find_links=args.find_links, no_index=args.no_index)
    return 0


def _image_wheels(args: argparse.Namespace) -> int:
    requirements = loopback.image_wheels(args.out)
    stage(f"wrote {requirements}:\n{requirements.read_text()}")
    return 0


def _prepare(args: argparse.Namespace) -> int:
    new = prepare(args.name, args.part, today=args.date)
    stage(
        f"{args.name} {new}: version source and changelog section written; commit them "
        f"on main, then tag that commit {args.name}-v{new}"
    )
    return 0


def _plan(args: argparse.Namespace) -> int:
    text = "".join(f"{key}={value}\n" for key, value in plan(args.tag, main=args.main).items())
    if args.github_output:
        with args.github_output.open("a") as output:
            output.write(text)
    print(text, end="")
    return 0


def _build(args: argparse.Namespace) -> int:
    for built in build_wheel(args.path, args.out, sdist=True):
        stage(f"built {built}")
    return 0


def _pinned(args: argparse.Namespace) -> int:
    print("\n".join(differing_pins() if args.differing else pinned_wheels()))
    return 0


def _where(args: argparse.Namespace) -> int:
    print(release_commit(args.name, args.version))
    print(released_wheel(args.name, args.version))
    return 0


def _adopt(args: argparse.Namespace) -> int:
    from adopt import main as adopt_main  # adopt imports this module

    return adopt_main(args.adopt_args)


def _api_diff(args: argparse.Namespace) -> int:
    version = tree_version(args.name)
    after_tree = Version(f"{version.major}.{version.minor}.{version.micro + 1}")
    diff = breaks_since_release(args.name, after_tree)
    for entry in diff.breaks:
        print(f"breaks: {entry}")
    for entry in diff.notes:
        print(f"note (allowed in a minor, with a changelog line): {entry}")
    print(
        f"{args.name}: {len(diff.breaks)} public name(s) removed or changed since its last release"
    )
    return 1 if diff.breaks else 0


COMMANDS = {
    "prepare": _prepare,
    "plan": _plan,
    "build": _build,
    "test": lambda args: run_wheel_tests(args.wheel, args.mode, args.pytest_args),
    "publish": lambda args: publish(args.files),
    "test-api": lambda args: run_api_tests(args.pytest_args),
    "pinned": _pinned,
    "where": _where,
    "releases": lambda args: print("\n".join(f"{v} {c}" for v, c in releases(args.name).items())),
    "adopt": _adopt,
    "api-diff": _api_diff,
    "image-wheels": _image_wheels,
    "sbom": _sbom,
    "test-lowest": lambda args: run_lowest(
        name=args.name,
        source=ROOT / RELEASABLE[args.name],
        build=build_wheel,
        metadata=wheel_metadata,
        pytest_args=args.pytest_args,
        root=ROOT,
    ),
}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(COMMANDS[args.command](args) or 0)
    except ReleaseError as exc:
        print(f"release: {exc}", file=sys.stderr)
        return 1
    except subprocess.CalledProcessError as exc:
        print(
            f"release: {' '.join(map(str, exc.cmd))} failed (exit {exc.returncode})",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
