"""Which test suites a change needs: the changed packages and everything depending on them.

The dependency graph is read from the packages' own pyproject files (a change to
acme-core retests acme-accounts, acme-items and the API). ``deploy/`` and
``benchmarks/`` run the API, so they depend on it, and so does ``.ci/tests``
(the release rehearsal installs every wheel); the benchmark runner starts its
stack with ``deploy/stackkit``, so it depends on ``deploy/`` too. A change outside these (CI,
workspace configuration) retests everything; top-level Markdown retests nothing.

    python .ci/affected.py --base origin/main            # JSON list on stdout
    python .ci/affected.py --base SHA --github-output "$GITHUB_OUTPUT"
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Suite name -> (directory, tests); the API's distribution is acme-api.
SUITES = {
    "acme-core": ("packages/acme-core", "packages/acme-core/tests"),
    "acme-accounts": ("packages/acme-accounts", "packages/acme-accounts/tests"),
    "acme-items": ("packages/acme-items", "packages/acme-items/tests"),
    "acme-api": ("services/api", "services/api/tests"),
    "deploy": ("deploy", "deploy/tests"),
    "benchmarks": ("benchmarks", "benchmarks/tests"),
    # The release scripts' tests; the rehearsal builds and installs every wheel.
    "ci": (".ci/tests", ".ci/tests"),
}
IGNORED = (re.compile(r"^[^/]+\.md$"), re.compile(r"^LICENSE$"))


def dependencies(root: Path = ROOT) -> dict[str, set[str]]:
    """Suite -> the suites it depends on directly (acme-* requirements, deploy -> acme-api)."""
    graph: dict[str, set[str]] = {
        "deploy": {"acme-api"},
        "benchmarks": {"acme-api", "deploy"},
        "ci": {"acme-api"},
    }
    for name, (directory, _tests) in SUITES.items():
        pyproject = root / directory / "pyproject.toml"
        if not pyproject.exists():
            continue
        requirements = tomllib.loads(pyproject.read_text())["project"].get("dependencies", [])
        names = {re.split(r"[\s\[<>=!~;]", r, maxsplit=1)[0].lower() for r in requirements}
        graph[name] = {n for n in names if n in SUITES and n != name}
    return graph


def dependants(changed: set[str], graph: dict[str, set[str]]) -> set[str]:
    """``changed`` plus every suite that depends on one of them, directly or not."""
    result = set(changed)
    grew = True
    while grew:
        grew = False
        for suite, needs in graph.items():
            if suite not in result and needs & result:
                result.add(suite)
                grew = True
    return result


def affected(paths: list[str], graph: dict[str, set[str]]) -> list[str]:
    """The suites to run for a change touching ``paths`` (repository-relative), in order."""
    changed: set[str] = set()
    for path in paths:
        owner = next(
            (name for name, (directory, _) in SUITES.items() if path.startswith(f"{directory}/")),
            None,
        )
        if owner is not None:
            changed.add(owner)
        elif not any(pattern.search(path) for pattern in IGNORED):
            return list(SUITES)  # workspace-wide configuration: everything
    selected = dependants(changed, graph)
    return [name for name in SUITES if name in selected]


def changed_files(base: str) -> list[str]:
    """Files that differ between ``base`` and HEAD (all files when there is no usable base)."""
    if not base or set(base) == {"0"}:  # a new branch: GitHub sends an all-zero SHA
        return ["<everything>"]
    result = subprocess.run(
        ["git", "diff", "--name-only", f"{base}...HEAD"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        print(f"cannot diff against {base!r}, testing everything", file=sys.stderr)
        return ["<everything>"]
    return [line for line in result.stdout.splitlines() if line]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="", help="the commit to compare HEAD with")
    parser.add_argument("--github-output", type=Path, help="append suites=<json> to this file")
    args = parser.parse_args()
    suites = affected(changed_files(args.base), dependencies())
    matrix = [{"name": n, "path": SUITES[n][0], "tests": SUITES[n][1]} for n in suites]
    text = json.dumps(matrix)
    if args.github_output:
        with args.github_output.open("a") as output:
            output.write(f"suites={text}\n")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
