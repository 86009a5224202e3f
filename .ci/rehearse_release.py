"""Rehearse the whole release path of one component on 127.0.0.1, stage by stage.

    .venv/bin/hatch run release-rehearsal [--keep DIR] [--renovate DIR]

It works in a scratch clone of this repository's HEAD, cloned without tags
(release commits are found from history, as in any clone without them), with
an "origin" beside it and a private index on loopback (pypiserver: a password
for every action, no fallback to a public index, the API's locked
third-party wheels mirrored into it from a local wheelhouse). Every release
step runs through ``.ci/release``, the one command the release workflow's
steps call. The stages:

 1. the releases so far, first of all 1.0.0 of acme-core, acme-accounts and
    acme-items: each tagged on its release commit, planned, built, published;
 2. a fix to acme-items and its release commit on main (``.ci/release
    prepare acme-items patch``): only acme-items' folder changes, and the
    development workspace builds with acme-items ahead of the API's pin;
 3. plan refuses a tag on a commit that is not on main and a tag whose
    version disagrees with the tree, then accepts acme-items-v1.0.1;
 4. build that wheel (and sdist) only, and its CycloneDX SBOM;
 5. test it against its lowest and newest released siblings and the tree's;
 6. publish it; the same run again skips what the index has, and a different
    file under the released version is refused;
 7. install it from the private index alone: the published wheel is byte for
    byte the one rebuilt from its release commit (what the API's tests use);
 8. the API's tests on its old pin (acme-items 1.0.0 today);
 9. Renovate in lookup mode (local platform) with the repository's config,
    its registry pointed at the loopback index: it proposes 1.0.1;
10. the adopt script: pin moved, lock regenerated, the API's tests green on
    1.0.1, and the image's install from the index (lock with hashes, the
    pins) works.

The API's tests in stages 8 and 10 are API_TESTS below (``--api-tests``):
the items and accounts HTTP contract on both backends; the whole API suite
runs against the pins in .ci/run's own stage. Exit status 0 when every stage
passed; 1 at the first that did not.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCK = Path("services/api/requirements.lock")
DEFAULT_WHEELHOUSE = (
    Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "acme" / "wheelhouse"
)
USER, PASSWORD = "release-bot", "rehearsal-only-password"
COMPONENTS = {
    "acme-core": "packages/acme-core",
    "acme-accounts": "packages/acme-accounts",
    "acme-items": "packages/acme-items",
}
API_TESTS = "services/api/tests/test_items_api.py services/api/tests/test_accounts_api.py"


class RehearsalFailed(Exception):
    """A stage did not do what a release needs."""


class Stages:
    """Prints each stage as it starts and passes, with the time it took."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.current: tuple[str, float] | None = None

    def __call__(self, title: str) -> None:
        self.passed()
        print(f"\n==> {title}", flush=True)
        self.current = (title, time.monotonic())

    def passed(self) -> None:
        if self.current:
            title, began = self.current
            print(f"PASS {title} ({time.monotonic() - began:.0f}s)", flush=True)
            self.current = None


def run(
    command: list[str],
    *,
    cwd: Path,
    env: dict[str, str] | None = None,
    expect: int | None = 0,
    quiet: bool = False,
) -> subprocess.CompletedProcess[str]:
    """Run a command, echo it and its output; fail the rehearsal on an unexpected status."""
    print("$ " + " ".join(command).replace(PASSWORD, "***"), flush=True)
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    output = (result.stdout + result.stderr).replace(PASSWORD, "***").rstrip()
    if output and not quiet:
        print(output, flush=True)
    if expect is not None and result.returncode != expect:
        if quiet:
            print(output)
        raise RehearsalFailed(f"{command[0]} exited {result.returncode}, expected {expect}")
    return result


# --- the wheelhouse the private index mirrors -------------------------------------


def locked_wheels(lock: Path) -> list[tuple[str, str]]:
    """(name, version) of every package in the API's lock."""
    return re.findall(r"^([A-Za-z0-9_.-]+)==([^\s\\]+)", lock.read_text(), re.MULTILINE)


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def missing_from(wheelhouse: Path, lock: Path) -> list[str]:
    present = {
        (_normalize(f.name.split("-")[0]), f.name.split("-")[1]) for f in wheelhouse.glob("*.whl")
    }
    return [f"{n}=={v}" for n, v in locked_wheels(lock) if (_normalize(n), v) not in present]


def fill_wheelhouse(wheelhouse: Path, lock: Path, *, offline: bool = False) -> None:
    wheelhouse.mkdir(parents=True, exist_ok=True)
    if missing_from(wheelhouse, lock) and not offline:
        pip = [sys.executable, "-m", "pip", "download", "--quiet", "--require-hashes"]
        run(
            [*pip, "--no-deps", "--only-binary=:all:", "-r", str(lock), "-d", str(wheelhouse)],
            cwd=ROOT,
        )
    missing = missing_from(wheelhouse, lock)
    if missing:
        raise RehearsalFailed(
            f"the wheelhouse {wheelhouse} lacks {len(missing)} locked "
            f"wheel(s) ({', '.join(missing[:5])}...)"
        )
    print(f"wheelhouse {wheelhouse}: all {len(locked_wheels(lock))} locked wheels present")


# --- the private index ------------------------------------------------------------


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
        "--disable-fallback",
        "--authenticate",
        "update,download,list",
        "--passwords",
        str(work / "htpasswd"),
        "--log-file",
        str(work / "index.log"),
        str(packages),
    ]
    print("$ " + " ".join(command), flush=True)
    server = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
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


class Rehearsal:
    def __init__(self, work: Path, port: int, renovate: Path | None, api_tests: str) -> None:
        self.work, self.port, self.renovate, self.api_tests = work, port, renovate, api_tests
        self.clone = work / "clone"
        self.old_pin = ""
        self.index = f"http://{USER}:{PASSWORD}@127.0.0.1:{port}/simple/"
        self.env = {
            **os.environ,
            # A bare venv, as on a fresh CI runner: .ci/release installs the
            # pinned release tools into it (hashes checked) on first use.
            "RELEASE_PYTHON": str(work / "runner" / "bin" / "python"),
            "ACME_RELEASE_CACHE": str(work / "release-cache"),
            "UV_PUBLISH_URL": f"http://127.0.0.1:{port}/",
            # No credentials in it: .ci/release adds the upload ones, as on CI.
            "UV_PUBLISH_CHECK_URL": f"http://127.0.0.1:{port}/simple/",
            "UV_PUBLISH_USERNAME": USER,
            "UV_PUBLISH_PASSWORD": PASSWORD,
            "GIT_AUTHOR_NAME": "release rehearsal",
            "GIT_AUTHOR_EMAIL": "rehearsal@localhost",
            "GIT_COMMITTER_NAME": "release rehearsal",
            "GIT_COMMITTER_EMAIL": "rehearsal@localhost",
        }

    # helpers
    def release(self, *args: str, expect: int | None = 0) -> subprocess.CompletedProcess[str]:
        return run([".ci/release", *args], cwd=self.clone, env=self.env, expect=expect)

    def git(self, *args: str) -> str:
        return run(["git", *args], cwd=self.clone, env=self.env, quiet=True).stdout.strip()

    def checkout(self, ref: str) -> None:
        self.git("checkout", "--quiet", "--detach", ref)

    def check_anonymous_refused(self) -> None:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{self.port}/simple/", timeout=5)
            status = 200
        except urllib.error.HTTPError as exc:
            status = exc.code
        print(f"an anonymous listing of the index answered {status}")
        if status != 401:
            raise RehearsalFailed("the index let an anonymous client list it")

    def runner(self) -> None:
        run([sys.executable, "-m", "venv", str(self.work / "runner")], cwd=self.work)

    def clone_repository(self) -> None:
        origin = self.work / "origin.git"
        run(
            ["git", "clone", "--quiet", "--bare", "--no-tags", str(ROOT), str(origin)],
            cwd=self.work,
        )
        run(["git", "clone", "--quiet", str(origin), str(self.clone)], cwd=self.work)
        print(
            f"scratch clone of {self.git('rev-parse', '--short', 'HEAD')}, "
            f"{len(self.git('tag').split())} tags"
        )

    def plan_and_build(self, name: str, version: str) -> list[Path]:
        """The workflow's plan and build jobs for one tag, on a checkout of the tag.

        (For the first release the rehearsal skips the test job: stage 5 runs
        it for the patch release.)
        """
        tag = f"{name}-v{version}"
        self.checkout(tag)
        try:
            plan = self.release("plan", tag, "--main", "origin/main").stdout
            path = re.search(r"^path=(.+)$", plan, re.MULTILINE)
            if not path:
                raise RehearsalFailed(f"plan printed no path for {tag}")
            dist = self.work / f"dist-{tag}"
            self.release("build", path.group(1), "--out", str(dist))
        finally:
            self.git("checkout", "--quiet", "main")
        built = sorted(dist.glob("*.whl")) + sorted(dist.glob("*.tar.gz"))
        if [f.name.split("-")[0] for f in built] != [name.replace("-", "_")] * 2:
            raise RehearsalFailed(f"the build made {[f.name for f in built]}, not {name} alone")
        return built

    def sbom(self, wheel: Path) -> None:
        """The build job's SBOM step; the third-party wheels from the index's directory."""
        out = self.work / "sbom"
        self.release(
            "sbom", str(wheel), "--out", str(out),
            "--find-links", str(self.work / "index"), "--no-index",
        )  # fmt: skip
        if not (out / f"{wheel.name}.cdx.json").is_file():
            raise RehearsalFailed(f"no SBOM written for {wheel.name}")

    def publish(self, files: list[Path]) -> None:
        """The workflow's publish job."""
        self.release("publish", *map(str, files))

    # stages
    def first_releases(self) -> None:
        """Tag and publish every version released so far (1.0.0 was the first)."""
        for name in COMPONENTS:
            for line in self.release("releases", name).stdout.splitlines():
                version, commit = line.split()
                self.git("tag", f"{name}-v{version}", commit)
                self.git("push", "--quiet", "origin", f"{name}-v{version}")
                self.publish(self.plan_and_build(name, version))

    def pinned_version(self, name: str) -> str:
        pinned = re.search(
            rf'"{name}(?:\[[^\]]*\])?==([^"]+)"',
            (self.clone / "services/api/pyproject.toml").read_text(),
        )
        if not pinned:
            raise RehearsalFailed(f"the API pins no {name}")
        return pinned.group(1)

    def patch_release_commit(self) -> str:
        before = self.git("rev-parse", "HEAD")
        readme = self.clone / "packages/acme-items/README.md"
        readme.write_text(readme.read_text() + "\n<!-- a rehearsed fix -->\n")
        changelog = self.clone / "packages/acme-items/CHANGELOG.md"
        changelog.write_text(
            changelog.read_text().replace(
                "## [Unreleased]\n", "## [Unreleased]\n\n### Fixed\n- A rehearsed fix.\n", 1
            )
        )
        self.git("commit", "--quiet", "-am", "acme-items: a rehearsed fix")
        out = self.release("prepare", "acme-items", "patch").stdout
        version = re.search(r"acme-items (\S+):", out)
        if not version:
            raise RehearsalFailed("prepare did not say the new version")
        self.git("commit", "--quiet", "-am", f"Release acme-items {version.group(1)}")
        self.git("push", "--quiet", "origin", "HEAD:main")
        self.git("fetch", "--quiet", "origin")
        changed = self.git("diff", "--name-only", before, "HEAD").split()
        print("changed by the fix and the release commit:\n  " + "\n  ".join(changed))
        outside = [p for p in changed if not p.startswith("packages/acme-items/")]
        if outside:
            raise RehearsalFailed(f"releasing acme-items changed files outside it: {outside}")
        self.check_workspace()
        return version.group(1)

    def check_workspace(self) -> None:
        """The development workspace installs the tree (acme-items ahead of the API's pin)."""
        hatch = ROOT / ".venv" / "bin" / "hatch"
        if not hatch.exists():
            raise RehearsalFailed(f"{hatch} is missing: run the README's test command first")
        env = {k: v for k, v in self.env.items() if not k.startswith(("HATCH_", "VIRTUAL_ENV"))}
        try:
            run([str(hatch), "env", "create"], cwd=self.clone, env=env, quiet=True)
            # (no braces: hatch formats its command lines)
            probe = (
                "import importlib.metadata as m; "
                "[print(n, m.version(n)) for n in ('acme-core', 'acme-accounts', 'acme-items', "
                "'acme-api')]"
            )
            run([str(hatch), "run", "python", "-c", probe], cwd=self.clone, env=env)
            run(
                [
                    str(hatch),
                    "run",
                    "pytest",
                    "-q",
                    "-p",
                    "no:cacheprovider",
                    "services/api/tests/test_workspace.py",
                ],
                cwd=self.clone,
                env=env,
            )
            pins = self.release("pinned").stdout
            if f"acme_items-{self.old_pin}-" not in pins:
                raise RehearsalFailed("the API's pin of acme-items moved with the release")
        finally:
            run([str(hatch), "env", "prune"], cwd=self.clone, env=env, expect=None, quiet=True)

    def plan_refusals(self, version: str) -> None:
        self.git("checkout", "--quiet", "-b", "side")
        (self.clone / "packages/acme-items/README.md").write_text(
            "a commit only on a side branch\n"
        )
        self.git("commit", "--quiet", "-am", "a side branch")
        refused = self.release("plan", f"acme-items-v{version}", "--main", "origin/main", expect=1)
        if "is not on origin/main" not in refused.stderr:
            raise RehearsalFailed("plan did not refuse a tag outside main")
        self.git("checkout", "--quiet", "main")
        refused = self.release("plan", "acme-items-v9.9.9", "--main", "origin/main", expect=1)
        if "version source says" not in refused.stderr:
            raise RehearsalFailed("plan did not refuse a tag its version source disagrees with")
        self.git("tag", f"acme-items-v{version}")
        self.git("push", "--quiet", "origin", f"acme-items-v{version}")

    def test_wheel(self, wheel: Path) -> None:
        for mode in ("lowest", "newest", "tree"):
            print(f"--- siblings: {mode}", flush=True)
            result = self.release(
                "test", "--wheel", str(wheel), "--mode", mode, "--", "-q", expect=None
            )
            if result.returncode != 0:
                raise RehearsalFailed(f"the wheel's tests failed against the {mode} siblings")

    def publish_again(self, files: list[Path]) -> None:
        self.publish(files)
        print("a re-run published nothing new and succeeded")
        tampered = self.work / "tampered" / files[0].name
        tampered.parent.mkdir()
        shutil.copy2(files[0], tampered)
        with zipfile.ZipFile(tampered, "a") as archive:
            archive.writestr("acme/items/_tampered.py", "")
        if self.release("publish", str(tampered), expect=None).returncode == 0:
            raise RehearsalFailed("publishing a different file under the version succeeded")
        listing = self.simple_page("acme-items")
        published = hashlib.sha256(files[0].read_bytes()).hexdigest()
        if published not in listing or hashlib.sha256(tampered.read_bytes()).hexdigest() in listing:
            raise RehearsalFailed("the index holds another file under the released version")
        print(
            "a different file under the released version was refused; the index still "
            "serves the released one"
        )

    def simple_page(self, name: str) -> str:
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}/simple/{name}/")
        token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (loopback http)
            return str(response.read().decode())

    def install_from_index(self, version: str, wheel: Path) -> None:
        venv = self.work / "venv-items"
        run([sys.executable, "-m", "uv", "venv", "--quiet", str(venv)], cwd=self.work)
        python = str(venv / "bin" / "python")
        run(
            [
                sys.executable,
                "-m",
                "uv",
                "pip",
                "install",
                "--quiet",
                "--python",
                python,
                "--index-url",
                self.index,
                f"acme-items=={version}",
            ],
            cwd=self.work,
            env=self.env,
        )
        probe = run(
            [python, "-c", "import acme.items, acme.core; print(acme.items.__version__)"],
            cwd=self.work,
        )
        if probe.stdout.strip() != version:
            raise RehearsalFailed(f"installed acme-items {probe.stdout.strip()}, not {version}")
        rebuilt = Path(self.release("where", "acme-items", version).stdout.split()[1])
        same = rebuilt.read_bytes() == wheel.read_bytes()
        print(f"published {wheel.name} sha256 {hashlib.sha256(wheel.read_bytes()).hexdigest()}")
        print(f"rebuilt from the release commit: {'identical' if same else 'DIFFERENT'}")
        if not same:
            raise RehearsalFailed("the wheel rebuilt from the release commit differs")

    def api_tests_pass(self) -> None:
        result = self.release("test-api", "--", "-q", *self.api_tests.split(), expect=None)
        if result.returncode != 0:
            raise RehearsalFailed("the API's tests failed on its pins")

    def renovate_proposes(self, version: str) -> None:
        if self.renovate is None:
            raise RehearsalFailed("no Renovate installation (--renovate DIR)")
        config = json.loads((ROOT / ".github/renovate.json").read_text())
        for rule in config["packageRules"]:
            if "registryUrls" in rule:
                rule["registryUrls"] = [f"http://127.0.0.1:{self.port}/simple/"]
        (self.clone / ".github/renovate.json").write_text(json.dumps(config, indent=2))
        self.git("commit", "--quiet", "-am", "renovate: the loopback index")
        env = {
            **self.env,
            "LOG_LEVEL": "debug",
            "LOG_FORMAT": "json",
            "RENOVATE_BASE_DIR": str(self.work / "renovate-base"),
            "RENOVATE_HOST_RULES": json.dumps(
                [{"matchHost": "127.0.0.1", "username": USER, "password": PASSWORD}]
            ),
        }
        binary = self.renovate / "node_modules" / ".bin" / "renovate"
        result = run(
            [str(binary), "--platform=local", "--dry-run=lookup"],
            cwd=self.clone,
            env=env,
            expect=None,
            quiet=True,
        )
        (self.work / "renovate.log").write_text(result.stdout)
        proposals, failures = renovate_findings(result.stdout)
        for line in proposals:
            print(f"renovate proposes: {line}")
        if failures:
            raise RehearsalFailed(f"renovate's lookups failed: {failures}")
        if f"acme-items {self.old_pin} -> {version}" not in proposals:
            raise RehearsalFailed(
                f"renovate did not propose acme-items {version} (log: {self.work / 'renovate.log'})"
            )
        self.git("reset", "--quiet", "--hard", "HEAD~1")

    def adopt(self, name: str, version: str) -> None:
        result = self.release(
            "adopt", name, version, "--", "-q", *self.api_tests.split(), expect=None
        )
        if result.returncode != 0:
            raise RehearsalFailed("the adopt script failed")
        changed = sorted(self.git("status", "--porcelain").splitlines())
        print("the adopt change:\n  " + "\n  ".join(changed))
        expected = {
            "services/api/pyproject.toml",
            "services/api/requirements.lock",
            "services/api/requirements-acme.lock",
            "services/api/CHANGELOG.md",
        }
        if not {line.split()[-1] for line in changed} <= expected:
            raise RehearsalFailed(f"adopt changed more than the pin, lock and changelog: {changed}")
        self.install_image_set(name, version)

    def install_image_set(self, name: str, version: str) -> None:
        """The image build's install: the lock, then the acme pins, with hashes, from the index."""
        venv = self.work / "venv-image"
        run([sys.executable, "-m", "venv", str(venv)], cwd=self.work)
        pip = [
            str(venv / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--index-url",
            self.index,
        ]
        run(
            [*pip, "--require-hashes", "--only-binary=:all:", "--no-deps", "-r", str(LOCK)],
            cwd=self.clone,
            env=self.env,
        )
        # The acme pins with their released wheels' hashes, as deploy/Dockerfile installs them.
        run(
            [*pip, "--require-hashes", "--no-deps", "--only-binary=:all:",
             "-r", "services/api/requirements-acme.lock"],
            cwd=self.clone,
            env=self.env,
        )  # fmt: skip
        run([*pip, "--no-deps", "./services/api"], cwd=self.clone, env=self.env)
        run([str(venv / "bin" / "python"), "-m", "pip", "check"], cwd=self.clone)
        probe = run(
            [
                str(venv / "bin" / "python"),
                "-c",
                f"import importlib.metadata as m; print(m.version('{name}'))",
            ],
            cwd=self.clone,
        )
        if probe.stdout.strip() != version:
            raise RehearsalFailed(f"the image set has {name} {probe.stdout.strip()}")


def renovate_findings(log: str) -> tuple[list[str], list[str]]:
    """From Renovate's JSON log: its proposed updates, and lookups that failed."""
    proposals, failures = [], []
    for line in log.splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if record.get("level", 0) >= 50 or "Failed to look up" in record.get("msg", ""):
            failures.append(record.get("msg", ""))
        if record.get("msg") != "packageFiles with updates":
            continue
        for files in record.get("config", {}).values():
            for package_file in files:
                for dep in package_file.get("deps", []):
                    if dep.get("warnings") or dep.get("lookupError"):
                        failures.append(f"{dep.get('depName')}: {dep.get('warnings')}")
                    for update in dep.get("updates", []):
                        proposals.append(
                            f"{dep['depName']} {dep.get('currentVersion')} -> "
                            f"{update['newVersion']}"
                        )
    return proposals, failures


def rehearse(work: Path, wheelhouse: Path, renovate: Path | None, api_tests: str) -> None:
    stage = Stages()
    stage("0. the private index on loopback, a bare runner venv, a scratch clone without tags")
    fill_wheelhouse(wheelhouse, ROOT / LOCK, offline=True)
    server, port = start_index(work, wheelhouse)
    try:
        r = Rehearsal(work, port, renovate, api_tests)
        r.check_anonymous_refused()
        r.runner()
        r.clone_repository()
        r.old_pin = r.pinned_version("acme-items")
        stage("1. the releases so far (1.0.0 of each wheel first), tagged and published")
        r.first_releases()
        stage("2. a fix to acme-items and its release commit on main, nothing else changed")
        version = r.patch_release_commit()
        stage(f"3. plan: refuse a tag off main or disagreeing; tag acme-items-v{version}")
        r.plan_refusals(version)
        stage(f"4. build acme-items {version} only, and its SBOM")
        files = r.plan_and_build("acme-items", version)
        wheel = next(f for f in files if f.suffix == ".whl")
        r.sbom(wheel)
        stage("5. test the built wheel against its lowest, newest and the tree's siblings")
        r.test_wheel(wheel)
        stage("6. publish; again: skipped; a different file under the version: refused")
        r.publish(files)
        r.publish_again(files)
        stage("7. install it from the private index alone; rebuilt == published")
        r.install_from_index(version, wheel)
        stage(f"8. the API's tests on its old pin, acme-items {r.old_pin}")
        r.api_tests_pass()
        stage(f"9. Renovate (lookup mode, local platform) proposes acme-items {version}")
        r.renovate_proposes(version)
        stage(f"10. adopt acme-items {version}: pin, relock, the API's tests, the image set")
        r.adopt("acme-items", version)
        stage.passed()
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheelhouse", type=Path, default=DEFAULT_WHEELHOUSE)
    parser.add_argument("--keep", type=Path, help="work in this directory and keep it")
    parser.add_argument("--renovate", type=Path, help="where Renovate is installed (npm ci)")
    parser.add_argument("--api-tests", default=API_TESTS, help="the API tests stages 8, 10 run")
    parser.add_argument(
        "--fill-wheelhouse", action="store_true", help="only download the locked wheels, then stop"
    )
    args = parser.parse_args(argv)
    try:
        if args.fill_wheelhouse:
            fill_wheelhouse(args.wheelhouse, ROOT / LOCK)
            return 0
        work = args.keep or Path(tempfile.mkdtemp(prefix="acme-release-"))
        work.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        try:
            rehearse(work.resolve(), args.wheelhouse, args.renovate, args.api_tests)
        finally:
            if args.keep is None:
                shutil.rmtree(work, ignore_errors=True)
    except RehearsalFailed as exc:
        print(f"\nREHEARSAL FAILED: {exc}", file=sys.stderr)
        return 1
    print(f"\nrelease rehearsal passed in {time.monotonic() - started:.0f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
