"""Dependency confusion, on loopback: each documented consumer setup keeps acme-core private.

    python .ci/consumers.py [--poetry PATH] [--only pip,uv,poetry] [--keep DIR]

Three read-only pypiservers on 127.0.0.1:

- ``private``: the acme wheels built from the tree (what uv and Poetry take
  from the acme index);
- ``private-mirror``: the same plus the third-party wheels (pip's one index,
  which mirrors PyPI);
- ``public``: a stranger's ``acme-core`` 1.99.0 (a tiny wheel built here)
  and the third-party wheels, standing in for PyPI.

The third-party wheels are the API lock's, from the wheelhouse .ci/run fills
beforehand; the installers run sealed (loopback.sealed_env). Each
configuration of docs/consuming.md, read from that file, installs a project
depending on ``acme-items>=1.0,<2``; the check fails unless ``acme-core``
is the tree's version, fetched from a private index, and the public index
served no acme file. The unsafe recipes the document warns about run too and
must install the stranger's 1.99.0: proof that the check can fail.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import loopback
from loopback import CheckFailed, Index, run

DOC = loopback.ROOT / "docs/consuming.md"
PLACEHOLDER_PRIVATE = "https://pypi.acme.example/simple/"
PLACEHOLDER_PUBLIC = "https://pypi.org/simple/"
STRANGER = "1.99.0"
REQUIREMENT = "acme-items>=1.0,<2"


def documented(doc: Path = DOC) -> dict[str, str]:
    """The configuration blocks of docs/consuming.md, by tool."""
    found = re.findall(
        r"<!-- consumer-config: (\w+) (\S+) -->\s*```\w*\n(.*?)```", doc.read_text(), re.DOTALL
    )
    return {tool: text for tool, _, text in found}


@dataclass
class Setup:
    label: str
    tool: str
    config: str
    safe: bool  # documented: acme-core must be private; unsafe: it must be the stranger's


def setups(private: str, mirror: str, public: str) -> list[Setup]:
    docs = documented()

    def urls(text: str, acme: str) -> str:
        return text.replace(PLACEHOLDER_PRIVATE, acme).replace(PLACEHOLDER_PUBLIC, public)

    poetry = urls(docs["poetry"], private)
    # Poetry's implicit PyPI becomes the stand-in: a primary source replaces it.
    poetry += f'\n[[tool.poetry.source]]\nname = "public"\nurl = "{public}"\npriority = "primary"\n'
    poetry_direct_only = re.sub(r'^\s*"acme-core[^\n]*\n', "", poetry, flags=re.MULTILINE)
    poetry_direct_only = re.sub(r"^acme-core = [^\n]*\n", "", poetry_direct_only, flags=re.M)
    uv_sources_only = (
        '[project]\nname = "consumer"\nversion = "0.1.0"\nrequires-python = ">=3.11"\n'
        f'dependencies = ["{REQUIREMENT}"]\n\n'
        f'[[tool.uv.index]]\nname = "acme"\nurl = "{private}"\nexplicit = true\n\n'
        f'[[tool.uv.index]]\nname = "pypi"\nurl = "{public}"\ndefault = true\n\n'
        '[tool.uv.sources]\nacme-items = { index = "acme" }\n'
    )
    return [
        Setup("pip, docs/consuming.md (one private index that mirrors)", "pip",
              urls(docs["pip"], mirror), safe=True),
        Setup("pip --extra-index-url private (unsafe)", "pip",
              f"[global]\nindex-url = {public}\nextra-index-url = {private}\n", safe=False),
        Setup("uv, docs/consuming.md (acme index first, first-index)", "uv",
              urls(docs["uv"], private), safe=True),
        Setup("uv, explicit index + sources for direct deps only (unsafe)", "uv",
              uv_sources_only, safe=False),
        Setup("Poetry, docs/consuming.md (every acme name on the explicit source)", "poetry",
              poetry, safe=True),
        Setup("Poetry, explicit source for acme-items only (unsafe)", "poetry",
              poetry_direct_only, safe=False),
    ]  # fmt: skip


def install(setup: Setup, project: Path, env: dict[str, str], poetry: Path | None) -> Path:
    """Install the consumer project; return its venv's python."""
    project.mkdir(parents=True)
    if setup.tool == "pip":
        (project / "pip.conf").write_text(setup.config)
        run([sys.executable, "-m", "venv", ".venv"], cwd=project, env=env)
        pip_env = {**env, "PIP_CONFIG_FILE": str(project / "pip.conf")}
        run(
            [".venv/bin/python", "-m", "pip", "install", "-q", REQUIREMENT],
            cwd=project,
            env=pip_env,
        )
    elif setup.tool == "uv":
        (project / "pyproject.toml").write_text(setup.config)
        run([sys.executable, "-m", "uv", "sync", "-q", "--python", sys.executable],
            cwd=project, env=env)  # fmt: skip
    else:
        if poetry is None:
            raise CheckFailed("no Poetry given (--poetry)")
        (project / "pyproject.toml").write_text(setup.config)
        run([poetry, "env", "use", "-q", sys.executable], cwd=project, env=env)
        run([poetry, "install", "-q"], cwd=project, env=env)
    return project / ".venv/bin/python"


def installed(python: Path, env: dict[str, str]) -> dict[str, str]:
    code = "import importlib.metadata as m; [print(d.name, d.version) for d in m.distributions()]"
    out = run([python, "-c", code], cwd=python.parent, env=env).stdout
    return {n.lower().replace("_", "-"): v for n, v in (line.split() for line in out.splitlines())}


def check(setup: Setup, indexes: list[Index], work: Path, poetry: Path | None) -> None:
    print(f"\n--- {setup.label}", flush=True)
    project = work / "projects" / re.sub(r"\W+", "-", setup.label).strip("-")
    env = loopback.sealed_env(project.with_name(project.name + "-home"))
    marks = {index.name: index.mark() for index in indexes}
    python = install(setup, project, env, poetry)
    versions = installed(python, env)
    tree = loopback.tree_version("acme-core")
    got = {name: versions.get(name) for name in ("acme-items", "acme-core")}
    print("    installed: " + ", ".join(f"{name} {version}" for name, version in got.items()))
    for index in indexes:
        files = index.downloads(marks[index.name])
        acme = [f for f in files if f.startswith("acme")]
        others = len(files) - len(acme)
        what = ", ".join(acme) if acme else "no acme file"
        print(f"    from {index.name:<14} {what}; {others} third-party file(s)")
    from_public = [f for f in indexes[-1].downloads(marks["public"]) if f.startswith("acme")]
    if setup.safe:
        if versions.get("acme-core") != tree or from_public:
            raise CheckFailed(
                f"{setup.label}: acme-core {versions.get('acme-core')} installed "
                f"(the tree's is {tree}); public index served {from_public or 'nothing of acme'}"
            )
        print(f"    PASS acme-core {tree} came from the private index")
    else:
        if versions.get("acme-core") != STRANGER:
            raise CheckFailed(
                f"{setup.label}: expected the stranger's acme-core {STRANGER}, "
                f"got {versions.get('acme-core')}: the check could not tell confusion apart"
            )
        print(f"    PASS (as expected, unsafe): the public acme-core {STRANGER} was installed")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--poetry", type=Path, help="a Poetry executable (for the Poetry setups)")
    parser.add_argument("--only", default="pip,uv,poetry", help="tools to check, comma separated")
    parser.add_argument("--keep", type=Path, help="work here and leave it (default: a temp dir)")
    args = parser.parse_args(argv)
    tools = set(args.only.split(","))
    work = Path(args.keep or tempfile.mkdtemp(prefix="acme-consumers-")).resolve()
    indexes: list[Index] = []
    try:
        acme = list(loopback.build_components(work / "built").values())
        others = loopback.third_party()
        stranger = loopback.standin_wheel(work / "stranger", "acme-core", STRANGER)
        print(f"built from the tree: {', '.join(p.name for p in acme)}")
        print(f"stand-in public acme-core: {stranger.name}; third-party wheels: {len(others)}")
        indexes = [
            Index("private", loopback.copy_into(work / "private", acme), work),
            Index("private-mirror", loopback.copy_into(work / "mirror", acme + others), work),
            Index("public", loopback.copy_into(work / "public", [stranger, *others]), work),
        ]
        for index in indexes:
            print(f"index {index.name}: {index.url}")
        private, mirror, public = (index.url for index in indexes)
        for setup in setups(private, mirror, public):
            if setup.tool in tools:
                check(setup, indexes, work, args.poetry)
    except (CheckFailed, OSError) as exc:
        print(f"FAIL {exc}", file=sys.stderr)
        return 1
    finally:
        for index in indexes:
            index.stop()
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    print("\nevery documented setup took acme-core from the private index")
    return 0


if __name__ == "__main__":
    sys.exit(main())
