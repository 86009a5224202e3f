"""Versions to compare, each installed by uv into a venv of its own.

``tree`` is the working tree (the bench environment); ``git:REF`` any commit's
wheels, built by ``uv build``, beside that commit's ``requirements.lock``;
``wheels:DIR`` a directory of acme wheels; ``index:REQ@URL`` ``REQ`` (say
``acme-api==1.2.0``) and the acme wheels it pins, from the private index only.
acme wheels are installed with ``--no-deps`` from where they were named, never
from the public index (a public package of the same name must not win); the
third-party requirements their metadata declares come from the public index.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from importlib.metadata import distributions
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from . import REPO_DIR, RESULTS_DIR, BenchError

UV = shutil.which("uv", path=str(Path(sys.executable).parent)) or "uv"


@dataclass(frozen=True, slots=True)
class Version:
    """A version ready to run: its spec, what it is, and its venv's ``bin`` directory."""

    spec: str
    description: str
    bin_dir: Path


def git_describe(ref: str = "HEAD") -> str:
    """``<short sha> (<subject>)``, with ``+ uncommitted changes`` when the tree is dirty."""

    def git(*args: str) -> str:
        command = ["git", "-C", str(REPO_DIR), *args]
        return subprocess.run(command, capture_output=True, text=True, check=False).stdout.strip()

    described = git("log", "-1", "--format=%h (%s)", ref) or "unknown"
    dirty = ref == "HEAD" and git("status", "--porcelain", "--untracked-files=no")
    return described + (" + uncommitted changes" if dirty else "")


def requirements(site_packages: Path, root: str = "acme-api") -> tuple[list[str], list[str]]:
    """What the acme dists in ``site_packages`` need, from ``root`` down: the acme
    requirements not installed there, and every third-party requirement (markers
    evaluated with the extras asked of each dist, then dropped)."""
    installed = {canonicalize_name(d.name): d for d in distributions(path=[str(site_packages)])}
    extras: dict[str, set[str]] = {}
    acme: set[str] = set()
    third_party: set[str] = set()
    pending = [Requirement(root)]
    while pending:
        requirement = pending.pop()
        name = canonicalize_name(requirement.name)
        if not name.startswith("acme-") or name not in installed:
            (acme if name.startswith("acme-") else third_party).add(str(requirement))
        elif name not in extras or not set(requirement.extras) <= extras[name]:
            asked = extras.setdefault(name, set()) | set(requirement.extras)
            extras[name] = asked
            for child in map(Requirement, installed[name].requires or ()):
                marker, child.marker = child.marker, None
                if marker is None or any(marker.evaluate({"extra": e}) for e in ("", *asked)):
                    pending.append(child)
    return sorted(acme), sorted(third_party)


def _run(*command: str | Path) -> str:
    done = subprocess.run([str(c) for c in command], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        output = (done.stdout + done.stderr).strip().splitlines()
        raise BenchError(f"{' '.join(map(str, command[:3]))} failed:\n" + "\n".join(output[-20:]))
    return done.stdout.strip()


def _install(venv: Path, acme: list[str], *, index_url: str = "", lock: Path | None = None) -> None:
    """A new venv: ``lock`` (hashes checked), the ``acme`` wheels or requirements with
    ``--no-deps`` (from ``index_url`` only, following the pins), then the third-party
    requirements they declare; checked with ``uv pip check``."""
    shutil.rmtree(venv, ignore_errors=True)
    _run(UV, "venv", "--quiet", "--python", sys.executable, venv)
    python = ("--python", str(venv / "bin" / "python"))
    site = next(venv.glob("lib/python3*/site-packages"))
    if lock is not None and lock.exists():
        _run(UV, "pip", "install", "--quiet", *python, "--require-hashes", "-r", lock)
    index = ["--index-url", index_url] if index_url else []
    while acme:
        _run(UV, "pip", "install", "--quiet", *python, "--no-deps", *index, *acme)
        acme = requirements(site)[0] if index_url else []
    missing, third_party = requirements(site)
    if missing:
        raise BenchError(f"acme requirements not among the wheels: {', '.join(missing)}")
    if third_party:
        _run(UV, "pip", "install", "--quiet", *python, *third_party)
    _run(UV, "pip", "check", *python)


def _from_git(sha: str, venv: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="acme-bench-src-") as tmp:
        source, wheels = Path(tmp) / "src", Path(tmp) / "wheels"
        _run("git", "-C", REPO_DIR, "archive", "--format=tar", "-o", f"{tmp}/src.tar", sha)
        with tarfile.open(f"{tmp}/src.tar") as tar:
            tar.extractall(source, filter="data")
        for project in [*sorted(source.glob("packages/*")), source / "services" / "api"]:
            _run(UV, "build", "--wheel", "--quiet", "--out-dir", wheels, project)
        built = [str(wheel) for wheel in sorted(wheels.glob("*.whl"))]
        _install(venv, built, lock=source / "services" / "api" / "requirements.lock")


def prepare_version(spec: str, *, rebuild: bool = False) -> Version:
    """Install a version into its venv (a git commit's is reused once built) and return it;
    BenchError when the spec is malformed or the install failed."""
    if spec == "tree":
        return Version(spec, f"working tree: {git_describe()}", Path(sys.executable).parent)
    kind, _, value = spec.partition(":")
    requirement, _, url = value.partition("@")
    if kind not in {"git", "wheels", "index"} or not value or (kind == "index" and not url):
        raise BenchError(f"not a version spec: {spec!r} (tree, git:REF, wheels:DIR, index:REQ@URL)")
    key = f"{kind}:{value}"
    if kind == "git":
        key = "git:" + _run("git", "-C", REPO_DIR, "rev-parse", "--verify", f"{value}^{{commit}}")
    venv = RESULTS_DIR / ".venvs" / hashlib.sha256(key.encode()).hexdigest()[:16]
    described = venv / ".acme-bench-description"
    if kind == "git" and not rebuild and described.exists():
        return Version(spec, described.read_text().strip(), venv / "bin")
    print(f"building a venv for {spec} in {venv}")
    if kind == "git":
        _from_git(key[4:], venv)
        description = f"git {value}: {git_describe(key[4:])}"
    elif kind == "wheels":
        wheels = sorted(Path(value).glob("acme_*.whl"))
        _install(venv, [str(wheel) for wheel in wheels])
        description = f"wheels: {', '.join(wheel.name for wheel in wheels)}"
    else:
        _install(venv, requirement.split(), index_url=url)
        description = f"index {url}: {requirement} and the acme wheels it pins"
    described.write_text(description + "\n")
    return Version(spec, description, venv / "bin")
