"""Loopback package indexes and a sealed environment for installers.

Shared by the dependency-confusion check (consumers.py) and the image-layer
check (image_layer.py). Nothing here reaches past 127.0.0.1: every installer
runs with its own configuration files only (the machine's pip.conf and
PIP_* variables are dropped) and with a proxy that does not exist for every
other host, so a stray lookup of a public index fails instead of passing.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "services/api/requirements.lock"
WHEELHOUSE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "acme" / "wheelhouse"
COMPONENTS = {
    "acme-core": ROOT / "packages/acme-core",
    "acme-accounts": ROOT / "packages/acme-accounts",
    "acme-items": ROOT / "packages/acme-items",
}
BUILD_CONSTRAINTS = ROOT / ".ci/build-constraints.txt"
# Nothing listens on port 9 of the loopback: any request that does not go to
# 127.0.0.1 itself is sent there and fails at once.
DEAD_PROXY = "http://127.0.0.1:9"


class CheckFailed(Exception):
    """A check saw something other than what it asserts."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def sealed_env(work: Path) -> dict[str, str]:
    """The environment for pip, uv and Poetry: own config and caches, loopback only."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PIP_", "UV_", "POETRY_", "VIRTUAL_ENV"))
        and k.lower() not in {"http_proxy", "https_proxy", "all_proxy", "no_proxy"}
    }
    env.update(
        PIP_CONFIG_FILE=os.devnull,
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        UV_CACHE_DIR=str(work / "cache/uv"),
        UV_PYTHON_DOWNLOADS="never",
        POETRY_CACHE_DIR=str(work / "cache/poetry"),
        POETRY_CONFIG_DIR=str(work / "config/poetry"),
        POETRY_DATA_DIR=str(work / "data/poetry"),
        POETRY_VIRTUALENVS_IN_PROJECT="true",
        POETRY_NO_INTERACTION="1",
        # Poetry asks the system keyring for index credentials; there is none here.
        PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring",
        HTTP_PROXY=DEAD_PROXY,
        HTTPS_PROXY=DEAD_PROXY,
        ALL_PROXY=DEAD_PROXY,
        http_proxy=DEAD_PROXY,
        https_proxy=DEAD_PROXY,
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
    )
    return env


def run(
    command: list[str | Path], *, cwd: Path, env: dict[str, str], quiet: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run a command and print it; on failure print its output and raise."""
    words = [str(c) for c in command]
    print("    $ " + " ".join(words), flush=True)
    result = subprocess.run(words, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0 or not quiet:
        print((result.stdout + result.stderr).rstrip(), flush=True)
    if result.returncode != 0:
        raise CheckFailed(
            f"{words[0]} {words[1] if len(words) > 1 else ''} exited {result.returncode}"
        )
    return result


class Index:
    """A read-only pypiserver on 127.0.0.1 serving one directory, logging each request."""

    def __init__(self, name: str, packages: Path, work: Path) -> None:
        self.name, self.packages = name, packages
        self.log = work / f"index-{name}.log"
        self.port = free_port()
        command = [
            sys.executable, "-m", "pypiserver", "run", "--host", "127.0.0.1",
            "--port", str(self.port), "--disable-fallback", "-a", ".", "-P", ".",
            "-v", "--log-file", str(self.log), "--log-req-frmt", "%(bottle.request)s",
            "--hash-algo", "sha256", str(packages),
        ]  # fmt: skip
        self.server = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=1)
                return
            except (urllib.error.URLError, OSError):
                time.sleep(0.2)
        self.stop()
        raise CheckFailed(f"pypiserver for {name} did not start")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/simple/"

    def mark(self) -> int:
        """Where the request log ends now: downloads() counts from here."""
        return self.log.stat().st_size if self.log.exists() else 0

    def downloads(self, since: int) -> list[str]:
        """The files fetched from this index since ``mark()`` returned ``since``."""
        text = self.log.read_bytes()[since:].decode(errors="replace")
        return sorted(set(re.findall(r"GET \S*/packages/([^\s>#?]+)", text)))

    def stop(self) -> None:
        self.server.terminate()
        try:
            self.server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.server.kill()


def build_components(out: Path) -> dict[str, Path]:
    """The acme wheels built from the tree with the pinned build backend."""
    out.mkdir(parents=True, exist_ok=True)
    wheels = {}
    for name, source in COMPONENTS.items():
        before = set(out.glob("*.whl"))
        subprocess.run(
            [sys.executable, "-m", "uv", "build", "--quiet", "--wheel", "--out-dir", str(out),
             "--build-constraint", str(BUILD_CONSTRAINTS), str(source)],
            check=True,
        )  # fmt: skip
        (wheels[name],) = set(out.glob("*.whl")) - before
    return wheels


def image_wheels(out: Path) -> Path:
    """The image's "tree" wheels: the acme wheels and the API built from this tree, hashed.

    Writes ``out/requirements.txt`` (``name==version --hash=sha256:...`` each),
    which deploy/Dockerfile installs with ``--require-hashes --no-index`` when
    built with ``--build-arg ACME_WHEELS=tree --build-context acme-wheels=out``.
    """
    built = {**build_components(out)}
    before = set(out.glob("*.whl"))
    subprocess.run(
        [sys.executable, "-m", "uv", "build", "--quiet", "--wheel", "--out-dir", str(out),
         "--build-constraint", str(BUILD_CONSTRAINTS), str(ROOT / "services/api")],
        check=True,
    )  # fmt: skip
    (built["acme-api"],) = set(out.glob("*.whl")) - before
    lines = [
        "# The acme wheels built from the tree (.ci/release image-wheels), with their hashes.",
        *(f"{name}=={wheel.name.split('-')[1]} --hash=sha256:{sha256(wheel)}"
          for name, wheel in sorted(built.items())),
    ]  # fmt: skip
    requirements = out / "requirements.txt"
    requirements.write_text("\n".join(lines) + "\n")
    return requirements


def standin_wheel(out: Path, name: str, version: str) -> Path:
    """A tiny wheel claiming ``name`` at ``version``: what an attacker would publish."""
    module = name.replace("-", "_")
    files = {
        f"{module}_standin.py": b"# a stand-in of the public index, not the acme package\n",
        f"{module}-{version}.dist-info/METADATA": (
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
            "Summary: stand-in public package (dependency confusion check)\n"
        ).encode(),
        f"{module}-{version}.dist-info/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: loopback\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = f"{module}-{version}.dist-info/RECORD"
    lines = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        lines.append(f"{path},sha256={digest},{len(data)}")
    files[record] = ("\n".join([*lines, f"{record},,"]) + "\n").encode()
    out.mkdir(parents=True, exist_ok=True)
    wheel = out / f"{module}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, data in files.items():
            archive.writestr(path, data)
    return wheel


def third_party(wheelhouse: Path = WHEELHOUSE) -> list[Path]:
    """The API lock's third-party wheels (.ci/run fills the wheelhouse beforehand)."""
    wheels = sorted(wheelhouse.glob("*.whl"))
    if not wheels:
        raise CheckFailed(
            f"the wheelhouse {wheelhouse} is empty: "
            "python3 .ci/rehearse_release.py --fill-wheelhouse fills it (from PyPI, once)"
        )
    return wheels


def copy_into(directory: Path, files: list[Path]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for file in files:
        shutil.copy2(file, directory)
    return directory


def tree_version(name: str) -> str:
    about = COMPONENTS[name] / "src/acme" / name.removeprefix("acme-") / "__about__.py"
    match = re.search(r'__version__ = "([^"]+)"', about.read_text())
    if match is None:
        raise CheckFailed(f"no __version__ in {about}")
    return match.group(1)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
