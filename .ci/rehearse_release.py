"""Rehearse a release end to end against a private index on 127.0.0.1.

    .venv/bin/hatch run release-rehearsal

1. builds the three acme wheels (and the API's) from this tree;
2. starts pypiserver on a free loopback port: uploads and downloads need a
   password, and there is no fallback to a public index, so the index holds
   only what is put in it (the acme wheels, and the API's locked third-party
   wheels from a local wheelhouse, as an internal mirror would);
3. publishes the three wheels with the very command of the release workflow's
   "Publish" step (.github/workflows/release.yml);
4. in a fresh venv installs acme-core alone from that index with
   ``--index-url`` only (never ``--extra-index-url``) and imports it;
5. in another fresh venv installs the API's pinned set as the image build does
   (the lock with ``--require-hashes``, then the acme pins with ``--no-deps``);
6. publishes the same wheels again and shows the index refuses them.

The wheelhouse (``--wheelhouse``, default ``~/.cache/acme/wheelhouse``) is
filled from PyPI with the lock's hashes checked; ``--offline`` never downloads
and fails if a locked wheel is missing (the tests run it that way).
Exit status 0 when every step did what a release needs; 1 otherwise.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / ".github" / "workflows" / "release.yml"
LOCK = ROOT / "services" / "api" / "requirements.lock"
PACKAGES = ["packages/acme-core", "packages/acme-accounts", "packages/acme-items"]
DEFAULT_WHEELHOUSE = (
    Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "acme" / "wheelhouse"
)
USER, PASSWORD = "release-bot", "rehearsal-only-password"


class RehearsalFailed(Exception):
    """A step did not do what a release needs."""


def step(text: str) -> None:
    print(f"\n==> {text}", flush=True)


def run(command: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    """Run a command, echo it, and fail the rehearsal with its output if it fails."""
    print("$ " + " ".join(command).replace(PASSWORD, "***"), flush=True)
    result = subprocess.run(command, capture_output=True, text=True, check=False, **kwargs)  # type: ignore[call-overload]
    if result.returncode != 0:
        raise RehearsalFailed(f"{command[0]} failed:\n{result.stdout}{result.stderr}")
    return result  # type: ignore[no-any-return]


def publish_step() -> tuple[str, list[str]]:
    """The release workflow's publish command and the variables it reads."""
    import yaml  # the workspace environment's; --fill-wheelhouse runs without it

    workflow = yaml.safe_load(WORKFLOW.read_text())
    steps = workflow["jobs"]["publish"]["steps"]
    publish = next(s for s in steps if s.get("name") == "Publish")
    return publish["run"], list(publish.get("env", {}))


def locked_wheels() -> list[tuple[str, str]]:
    """(name, version) of every package in the API's lock."""
    pins = re.findall(r"^([A-Za-z0-9_.-]+)==([^\s\\]+)", LOCK.read_text(), re.MULTILINE)
    return [(name, version) for name, version in pins]


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def missing_from(wheelhouse: Path) -> list[str]:
    present = {
        (_normalize(f.name.split("-")[0]), f.name.split("-")[1]) for f in wheelhouse.glob("*.whl")
    }
    return [f"{n}=={v}" for n, v in locked_wheels() if (_normalize(n), v) not in present]


def fill_wheelhouse(wheelhouse: Path, *, offline: bool) -> None:
    wheelhouse.mkdir(parents=True, exist_ok=True)
    if missing_from(wheelhouse) and not offline:
        pip = [sys.executable, "-m", "pip", "download", "--quiet", "--require-hashes"]
        run([*pip, "--no-deps", "--only-binary=:all:", "-r", str(LOCK), "-d", str(wheelhouse)])
    missing = missing_from(wheelhouse)
    if missing:
        raise RehearsalFailed(
            f"the wheelhouse {wheelhouse} lacks {len(missing)} locked wheel(s) "
            f"({', '.join(missing[:5])}...); run without --offline to fill it"
        )
    print(f"wheelhouse {wheelhouse}: all {len(locked_wheels())} locked wheels present")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_index(work: Path, wheelhouse: Path) -> tuple[subprocess.Popen[bytes], int]:
    packages = work / "index"
    packages.mkdir()
    for wheel in wheelhouse.glob("*.whl"):
        shutil.copy2(wheel, packages)
    # An Apache htpasswd entry, {SHA} scheme (pypiserver checks it with passlib).
    digest = base64.b64encode(hashlib.sha1(PASSWORD.encode()).digest()).decode()  # noqa: S324
    (work / "htpasswd").write_text(f"{USER}:{{SHA}}{digest}\n")
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "pypiserver",
        "run",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    command += ["--disable-fallback", "--authenticate", "update,download,list"]
    command += ["--passwords", str(work / "htpasswd"), "--log-file", str(work / "index.log")]
    print("$ " + " ".join([*command, str(packages)]), flush=True)
    server = subprocess.Popen(
        [*command, str(packages)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
            return server, port
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    server.kill()
    raise RehearsalFailed("pypiserver did not start")


def publish(
    command: str, variables: list[str], *, work: Path, port: int
) -> subprocess.CompletedProcess[str]:
    values = {
        "UV_PUBLISH_URL": f"http://127.0.0.1:{port}/",
        "UV_PUBLISH_USERNAME": USER,
        "UV_PUBLISH_PASSWORD": PASSWORD,
    }
    unknown = set(variables) - set(values)
    if unknown:
        raise RehearsalFailed(f"the workflow's publish step reads {unknown}; teach the rehearsal")
    env = {**os.environ, **values}
    print(f"$ {command}    (in {work}, with {', '.join(variables)})", flush=True)
    return subprocess.run(
        ["bash", "-c", command], cwd=work, env=env, capture_output=True, text=True, check=False
    )


def fresh_venv(path: Path) -> Path:
    run([sys.executable, "-m", "venv", str(path)])
    return path / "bin" / "python"


def api_pins() -> list[str]:
    data = tomllib.loads((ROOT / "services" / "api" / "pyproject.toml").read_text())
    return [d for d in data["project"]["dependencies"] if d.startswith("acme-")]


def build_wheels(work: Path) -> tuple[Path, Path]:
    """The three acme wheels (in dist/, what the publish command uploads) and the API's."""
    dist, api_dist = work / "dist", work / "api-dist"
    for package in PACKAGES:
        run(["uv", "build", "--wheel", "--quiet", "--out-dir", str(dist), str(ROOT / package)])
    api = ROOT / "services" / "api"
    run(["uv", "build", "--wheel", "--quiet", "--out-dir", str(api_dist), str(api)])
    print("\n".join(sorted(p.name for p in dist.glob("*.whl"))))
    return dist, api_dist


def check_anonymous_refused(port: int) -> None:
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/simple/", timeout=5)
        anonymous = 200
    except urllib.error.HTTPError as exc:
        anonymous = exc.code
    print(f"anonymous listing answered {anonymous} (credentials required)")
    if anonymous != 401:
        raise RehearsalFailed(f"the index let an anonymous client list it ({anonymous})")


def install_core_alone(work: Path, index: str) -> None:
    python = fresh_venv(work / "venv-core")
    run([str(python), "-m", "pip", "install", "--quiet", "--index-url", index, "acme-core"])
    code = "import acme.core, acme.core.config; print(acme.core.__version__)"
    probe = run([str(python), "-c", code])
    print(f"installed and imported acme-core {probe.stdout.strip()}")


def install_api_set(work: Path, index: str, api_dist: Path) -> None:
    python = fresh_venv(work / "venv-api")
    pip = [str(python), "-m", "pip", "install", "--quiet", "--index-url", index]
    run([*pip, "--require-hashes", "--only-binary=:all:", "--no-deps", "-r", str(LOCK)])
    run([*pip, "--no-deps", "--only-binary=:all:", *api_pins()])
    run([*pip, "--no-deps", *map(str, api_dist.glob("*.whl"))])
    run([str(python), "-m", "pip", "check"])
    probe = run([str(python), "-c", "import acme_api.main, acme.accounts, acme.items; print('ok')"])
    version = run([str(work / "venv-api" / "bin" / "acme-api"), "--version"]).stdout.strip()
    print(f"installed {', '.join(api_pins())}; {version}; imports {probe.stdout.strip()}")


def rehearse(work: Path, wheelhouse: Path, *, offline: bool) -> None:
    """Every step of the release, in order; raises RehearsalFailed at the first that fails."""
    step("build the three wheels and the API's")
    _dist, api_dist = build_wheels(work)

    step("the locked third-party wheels for the index's mirror")
    fill_wheelhouse(wheelhouse, offline=offline)

    step("start the private index (pypiserver, no fallback, password for every action)")
    server, port = start_index(work, wheelhouse)
    try:
        index = f"http://{USER}:{PASSWORD}@127.0.0.1:{port}/simple/"
        check_anonymous_refused(port)

        step("publish with the release workflow's own command")
        command, variables = publish_step()
        first = publish(command, variables, work=work, port=port)
        print(first.stdout + first.stderr)
        if first.returncode != 0:
            raise RehearsalFailed("publishing failed")

        step("a fresh venv installs acme-core alone, from the private index only")
        install_core_alone(work, index)

        step("a fresh venv installs the API's pinned set, as the image build does")
        install_api_set(work, index, api_dist)

        step("publishing the same versions again is refused")
        again = publish(command, variables, work=work, port=port)
        print((again.stdout + again.stderr).strip())
        if again.returncode == 0:
            raise RehearsalFailed("the index accepted a version it already had")
        print("re-publishing was refused: released versions are immutable")
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheelhouse", type=Path, default=DEFAULT_WHEELHOUSE)
    parser.add_argument("--offline", action="store_true", help="never download into the wheelhouse")
    parser.add_argument("--keep", type=Path, help="work in this directory and keep it")
    parser.add_argument(
        "--fill-wheelhouse", action="store_true", help="only download the locked wheels, then stop"
    )
    args = parser.parse_args(argv)
    if args.fill_wheelhouse:
        try:
            fill_wheelhouse(args.wheelhouse, offline=False)
        except RehearsalFailed as exc:
            print(f"wheelhouse: {exc}", file=sys.stderr)
            return 1
        return 0
    work = args.keep or Path(tempfile.mkdtemp(prefix="acme-release-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        rehearse(work, args.wheelhouse, offline=args.offline)
    except RehearsalFailed as exc:
        print(f"\nREHEARSAL FAILED: {exc}", file=sys.stderr)
        return 1
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    print("\nrelease rehearsal passed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
