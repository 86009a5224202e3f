"""The image's Python layer without Docker: deploy/Dockerfile's own build stage, run here.

    python .ci/image_layer.py [--keep DIR]

Reads the ``build`` stage of deploy/Dockerfile and carries out its ARG, ENV,
WORKDIR, COPY and RUN instructions in a scratch directory, with the
``ACME_WHEELS=tree`` build argument: the image's absolute paths (``/opt/acme``,
``/build``, the ``acme-wheels`` build context) are mapped into that directory,
the lock's third-party wheels come from a loopback index standing in for PyPI
(the wheelhouse .ci/run fills), and the acme wheels and the API from the
tree's wheels with their hashes (``.ci/release image-wheels``). Then the
installed API, as the image runs it (gunicorn with ``acme_api.gunicorn_conf``),
migrates a fresh SQLite database and must answer ``GET /health/ready`` 200;
last, the CycloneDX SBOM of that Python set is written and validated.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import loopback
from loopback import CheckFailed, Index, run
from sbom import environment_sbom

DOCKERFILE = loopback.ROOT / "deploy/Dockerfile"
# What the image build leaves out of its context (deploy/Dockerfile.dockerignore).
IGNORED = shutil.ignore_patterns(".venv", "__pycache__", "*.py[cod]", "dist", "build", "*.db")


def build_stage(dockerfile: Path = DOCKERFILE) -> list[tuple[str, str]]:
    """The instructions of the ``build`` stage, continuation lines joined, comments dropped."""
    logical, pending = [], ""
    for line in dockerfile.read_text().splitlines():
        if line.lstrip().startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        pending += line
        if pending.strip():
            logical.append(pending.strip())
        pending = ""
    stage, inside = [], False
    for instruction in logical:
        keyword, _, rest = instruction.partition(" ")
        if keyword.upper() == "FROM":
            inside = rest.split()[-1] == "build"
            continue
        if inside:
            stage.append((keyword.upper(), rest.strip()))
    if not stage:
        raise CheckFailed(f"{dockerfile} has no stage named build")
    return stage


class Builder:
    """Carries out a build stage on this machine, the image's paths mapped under ``root``."""

    def __init__(self, root: Path, paths: dict[str, Path], env: dict[str, str]) -> None:
        self.root, self.env = root, env
        self.paths = dict(sorted(paths.items(), key=lambda kv: -len(kv[0])))
        self.workdir = root

    def map(self, text: str) -> str:
        for image_path, here in self.paths.items():
            text = re.sub(rf"(?<![\w./-]){re.escape(image_path)}(?![\w.-])", str(here), text)
        return text

    def target(self, path: str) -> Path:
        mapped = Path(self.map(path))
        return mapped if mapped.is_absolute() else self.workdir / mapped

    def do(self, keyword: str, args: str, build_args: dict[str, str]) -> None:
        if keyword == "ARG":
            name, _, default = args.partition("=")
            self.env[name] = build_args.get(name, default)
        elif keyword == "ENV":
            for pair in shlex.split(args):
                name, _, value = pair.partition("=")
                self.env[name] = value
        elif keyword == "WORKDIR":
            self.workdir = self.target(args)
            self.workdir.mkdir(parents=True, exist_ok=True)
        elif keyword == "COPY":
            words = [w for w in shlex.split(args) if not w.startswith("--")]
            *sources, dest = words
            destination = self.target(dest)
            for source in sources:
                origin = loopback.ROOT / source
                if origin.is_dir():
                    shutil.copytree(origin, destination, ignore=IGNORED, dirs_exist_ok=True)
                else:
                    destination.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(origin, destination / origin.name)
            print(f"    COPY {args}")
        elif keyword == "RUN":
            command = re.sub(r"^(--\S+\s+)+", "", args)
            run(["sh", "-c", self.map(command)], cwd=self.workdir, env=self.env)
        else:
            raise CheckFailed(f"the image-layer check does not know {keyword} ({args[:40]})")


def serve_and_probe(prefix: Path, work: Path, env: dict[str, str]) -> None:
    """Migrate a fresh SQLite database, start gunicorn as the image does, ask /health/ready."""
    port = loopback.free_port()
    metrics = work / "metrics"
    metrics.mkdir()
    api_env = {
        **env,
        "PATH": f"{prefix / 'bin'}{os.pathsep}{env['PATH']}",
        "ACME_ENV": "development",
        "ACME_SECRETS": "env",
        "ACME_DATABASE_URL": f"sqlite+aiosqlite:///{work / 'fresh.db'}",
        "ACME_GUNICORN_BIND": f"127.0.0.1:{port}",
        "ACME_GUNICORN_WORKERS": "1",
        "ACME_METRICS_DIR": str(metrics),
    }
    run([prefix / "bin/acme-api", "migrate"], cwd=work, env=api_env, quiet=False)
    command = [str(prefix / "bin/gunicorn"), "--config", "python:acme_api.gunicorn_conf"]
    print("    $ " + " ".join(command) + f"  (bind 127.0.0.1:{port})", flush=True)
    log = (work / "gunicorn.log").open("w")
    server = subprocess.Popen(
        command, cwd=work, env=api_env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        deadline, answer = time.monotonic() + 60, None
        while time.monotonic() < deadline and server.poll() is None:
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/health/ready", timeout=2
                ) as response:
                    answer = (response.status, response.read().decode())
                    break
            except urllib.error.HTTPError as exc:
                answer = (exc.code, exc.read().decode())
            except OSError:
                pass
            time.sleep(0.3)
        if answer is None or answer[0] != 200:
            print((work / "gunicorn.log").read_text()[-3000:])
            raise CheckFailed(f"GET /health/ready: {answer or 'no answer'}")
        print(f"    GET /health/ready -> {answer[0]} {answer[1]}")
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
        log.close()


def check(work: Path) -> None:
    wheels = work / "acme-wheels"
    requirements = loopback.image_wheels(wheels)
    print("tree wheels (ACME_WHEELS=tree, --build-context acme-wheels=DIR):")
    print("    " + "\n    ".join(requirements.read_text().splitlines()[1:]))
    pypi = Index("pypi-stand-in", loopback.copy_into(work / "pypi", loopback.third_party()), work)
    try:
        env = loopback.sealed_env(work / "home")
        # The image build's pip asks PyPI; here the loopback stand-in serves the lock's files.
        env["PIP_INDEX_URL"] = pypi.url
        secret = work / "acme_index_url"
        secret.write_text("http://127.0.0.1:9/no-private-index-in-tree-mode/simple/")
        prefix = work / "opt-acme"
        builder = Builder(
            work,
            {
                "/opt/acme": prefix,
                "/build": work / "build",
                "/acme-wheels": wheels,
                "/run/secrets/acme_index_url": secret,
            },
            env,
        )
        mark = pypi.mark()
        for keyword, args in build_stage():
            builder.do(keyword, args, {"ACME_WHEELS": "tree"})
        fetched = pypi.downloads(mark)
    finally:
        pypi.stop()
    versions = run(
        [prefix / "bin/python", "-m", "pip", "list", "--format=freeze"], cwd=work, env=env
    ).stdout.split()
    acme = [v for v in versions if v.startswith("acme")]
    print(f"installed into {prefix}: {len(versions)} distributions")
    print(f"    from the PyPI stand-in (the lock, --require-hashes): {len(fetched)} wheels")
    print(f"    from the tree's wheels (--require-hashes --no-index): {', '.join(acme)}")
    if any(f.startswith("acme") for f in fetched):
        raise CheckFailed(f"an acme wheel came from the index: {fetched}")
    serve_and_probe(prefix, work, env)
    document = work / "image-python.cdx.json"
    summary = environment_sbom(prefix / "bin/python", document)
    print(
        f"    SBOM of the image's Python set: {summary['components']} components, valid CycloneDX"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="work here and leave it (default: a temp dir)")
    args = parser.parse_args(argv)
    work = Path(args.keep or tempfile.mkdtemp(prefix="acme-image-layer-")).resolve()
    try:
        check(work)
    except (CheckFailed, OSError, subprocess.CalledProcessError, ValueError) as exc:
        print(f"FAIL {exc}", file=sys.stderr)
        return 1
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    print("the image's Python layer installs from the tree's wheels and serves /health/ready")
    return 0


if __name__ == "__main__":
    sys.exit(main())
