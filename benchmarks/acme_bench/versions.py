"""Versions to compare, each installed into its own venv.

A version is named by a spec:

- ``tree``: the working tree, as the ``bench`` environment has it installed;
- ``git:REF``: any commit, branch or tag of this repository; its wheels are
  built locally and installed beside the third-party set of that commit's
  ``services/api/requirements.lock``;
- ``wheels:DIR``: the acme wheels in a directory (a release's artifacts);
- ``index:REQ@URL``: ``REQ`` (e.g. ``acme-api==1.2.0``; several, separated by
  spaces) and the acme wheels it pins, from the private index at ``URL`` only.

acme wheels are always installed with ``--no-deps`` from where they were
named, never looked up on the public index (a public package of the same
name must not win); third-party requirements come from the public index.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .context import REPO_DIR, RESULTS_DIR, git_describe
from .requirements import acme_requirements, read_installed, third_party_requirements

__all__ = ["Version", "VersionError", "prepare_version"]

API_ROOT = "acme-api"


class VersionError(RuntimeError):
    """A version spec is malformed, or its venv could not be built."""


@dataclass(frozen=True, slots=True)
class Version:
    """A version ready to run: its label and the ``bin`` directory of its venv."""

    spec: str
    description: str
    bin_dir: Path


def _uv() -> str:
    beside = Path(sys.executable).parent / "uv"
    found = str(beside) if beside.exists() else shutil.which("uv")
    if not found:
        raise VersionError("uv is needed to build version venvs (it is in the bench env)")
    return found


def _run(command: list[str], *, what: str, cwd: Path | None = None) -> str:
    completed = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        output = (completed.stdout + completed.stderr).strip().splitlines()
        raise VersionError(f"{what} failed:\n" + "\n".join(output[-20:]))
    return completed.stdout


def _git(*args: str) -> str:
    return _run(["git", "-C", str(REPO_DIR), *args], what=f"git {' '.join(args)}").strip()


def _site_packages(venv: Path) -> Path:
    found = sorted(venv.glob("lib/python3*/site-packages"))
    if not found:
        raise VersionError(f"{venv} has no site-packages")
    return found[0]


def _new_venv(venv: Path) -> None:
    if venv.exists():
        shutil.rmtree(venv)
    _run([_uv(), "venv", "--quiet", "--python", sys.executable, str(venv)], what="uv venv")


def _pip(venv: Path, *args: str, what: str) -> None:
    _run(
        [_uv(), "pip", "install", "--quiet", "--python", str(venv / "bin" / "python"), *args],
        what=what,
    )


def _finish(venv: Path) -> None:
    """Install whatever third-party requirement is still missing, then check the venv."""
    installed = read_installed(_site_packages(venv))
    needed = third_party_requirements([API_ROOT], installed)
    if needed:
        _pip(venv, *needed, what="installing third-party requirements")
    _run(
        [_uv(), "pip", "check", "--python", str(venv / "bin" / "python")],
        what="checking the venv's requirements",
    )
    (venv / ".acme-bench-ready").write_text("ok\n")


def _build_wheels(source: Path, out: Path) -> list[Path]:
    projects = sorted(p.parent for p in source.glob("packages/*/pyproject.toml"))
    projects.append(source / "services" / "api")
    for project in projects:
        _run(
            [_uv(), "build", "--wheel", "--quiet", "--out-dir", str(out), str(project)],
            what=f"building {project.name}",
        )
    return sorted(out.glob("*.whl"))


def _from_git(ref: str, venv: Path) -> str:
    sha = _git("rev-parse", "--verify", f"{ref}^{{commit}}")
    with tempfile.TemporaryDirectory(prefix="acme-bench-src-") as tmp:
        source, wheels = Path(tmp) / "src", Path(tmp) / "wheels"
        source.mkdir()
        archive = Path(tmp) / "src.tar"
        _run(
            ["git", "-C", str(REPO_DIR), "archive", "--format=tar", "-o", str(archive), sha],
            what=f"git archive {ref}",
        )
        with tarfile.open(archive) as tar:
            tar.extractall(source, filter="data")
        built = _build_wheels(source, wheels)
        _new_venv(venv)
        lock = source / "services" / "api" / "requirements.lock"
        if lock.exists():
            _pip(venv, "--require-hashes", "-r", str(lock), what="installing the locked set")
        _pip(venv, "--no-deps", *map(str, built), what="installing the acme wheels")
        _finish(venv)
    return git_describe(sha)


def _from_wheels(directory: Path, venv: Path) -> str:
    wheels = sorted(directory.glob("acme_*.whl"))
    if not wheels:
        raise VersionError(f"no acme wheels in {directory}")
    _new_venv(venv)
    _pip(venv, "--no-deps", *map(str, wheels), what="installing the acme wheels")
    _finish(venv)
    return ", ".join(w.name for w in wheels)


def _from_index(requirement: str, url: str, venv: Path) -> str:
    _new_venv(venv)
    pending = requirement.split()
    while pending:
        _pip(
            venv,
            "--no-deps",
            "--index-url",
            url,
            *pending,
            what=f"installing {' '.join(pending)} from {url}",
        )
        pending = acme_requirements([API_ROOT], read_installed(_site_packages(venv)))
    _finish(venv)
    installed = read_installed(_site_packages(venv))
    return ", ".join(
        f"{d.name}=={d.version}" for n, d in sorted(installed.items()) if n.startswith("acme-")
    )


def _cache_key(spec: str) -> str:
    if spec.startswith("git:"):
        spec = "git:" + _git("rev-parse", "--verify", f"{spec[4:]}^{{commit}}")
    return hashlib.sha256(spec.encode()).hexdigest()[:16]


def prepare_version(spec: str, *, rebuild: bool = False) -> Version:
    """Install a version into its venv (reused when already built) and return it.

    Raises:
        VersionError: the spec is malformed or the install failed.
    """
    if spec == "tree":
        return Version(spec, f"working tree: {git_describe()}", Path(sys.executable).parent)
    kind, _, value = spec.partition(":")
    if kind not in {"git", "wheels", "index"} or not value:
        raise VersionError(
            f"not a version spec: {spec!r} (use tree, git:REF, wheels:DIR or index:REQ@URL)"
        )
    venv = RESULTS_DIR / ".venvs" / _cache_key(spec)
    description_file = venv / ".acme-bench-description"
    if not rebuild and (venv / ".acme-bench-ready").exists() and kind == "git":
        return Version(spec, description_file.read_text().strip(), venv / "bin")
    print(f"building a venv for {spec} in {venv}")
    if kind == "git":
        description = f"git {value}: {_from_git(value, venv)}"
    elif kind == "wheels":
        description = f"wheels: {_from_wheels(Path(value), venv)}"
    else:
        requirement, at, url = value.partition("@")
        if not at or not requirement or not url:
            raise VersionError(f"index spec needs REQ@URL, e.g. index:acme-api==1.2.0@URL: {spec}")
        description = f"index {url}: {_from_index(requirement, url, venv)}"
    description_file.write_text(description + "\n")
    return Version(spec, description, venv / "bin")
