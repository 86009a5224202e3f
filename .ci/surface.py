"""The public surface of an acme wheel, read from its sources, and what a release removes.

The rule (written in each package's README): a public module's ``__all__``
is public. Public modules are every module of the package except those named
with a leading ``_`` (at any depth), ``migrations`` and, in a component, its
internal ``ports``, ``repository`` and ``tables``. Names are read with
``ast`` from the source at a commit (no import, no install), so the surface
of any release is known from git alone.
"""

from __future__ import annotations

import ast
import subprocess
from pathlib import Path, PurePosixPath

from releases import RELEASABLE, ROOT, ReleaseError

__all__ = ["removed_names", "surface"]

COMPONENT_INTERNALS = {"ports", "repository", "tables"}


def _module_name(path: PurePosixPath, src: PurePosixPath) -> str:
    parts = list(path.relative_to(src).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_public(module: str, name: str) -> bool:
    parts = module.split(".")
    if any(part.startswith("_") or part == "migrations" for part in parts):
        return False
    return not (name != "acme-core" and parts[-1] in COMPONENT_INTERNALS)


def _all_of(source: str) -> set[str]:
    """The names in ``__all__``: assigned (annotated or not), extended with ``+=``."""
    names: set[str] = set()
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign | ast.AugAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
            found = {str(item) for item in ast.literal_eval(value)}
            names = names | found if isinstance(node, ast.AugAssign) else found
    return names


def _files(name: str, commit: str | None, root: Path) -> dict[PurePosixPath, str]:
    src = f"{RELEASABLE[name]}/src"
    if commit is None:
        return {
            PurePosixPath(p.relative_to(root).as_posix()): p.read_text()
            for p in (root / src).rglob("*.py")
        }
    listing = subprocess.run(
        ["git", "ls-tree", "-r", "--name-only", commit, "--", src],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    files = {}
    for path in listing:
        if path.endswith(".py"):
            files[PurePosixPath(path)] = subprocess.run(
                ["git", "show", f"{commit}:{path}"],
                cwd=root,
                capture_output=True,
                text=True,
                check=True,
            ).stdout
    return files


def surface(name: str, commit: str | None = None, root: Path = ROOT) -> dict[str, set[str]]:
    """Each public module of ``name`` and its ``__all__``, at ``commit`` (None: the tree)."""
    src = PurePosixPath(f"{RELEASABLE[name]}/src")
    result = {}
    for path, text in _files(name, commit, root).items():
        module = _module_name(path, src)
        if _is_public(module, name):
            try:
                result[module] = _all_of(text)
            except (SyntaxError, ValueError) as exc:
                raise ReleaseError(f"cannot read __all__ of {module}: {exc}") from exc
    return result


def removed_names(old: dict[str, set[str]], new: dict[str, set[str]]) -> list[str]:
    """Public names in ``old`` that ``new`` no longer has (a removed module removes them all)."""
    gone = []
    for module, names in sorted(old.items()):
        kept = new.get(module, set())
        gone += [f"{module}.{n}" for n in sorted(names - kept)]
        if module not in new and not names:
            gone.append(module)
    return gone
