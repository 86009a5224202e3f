"""What a release breaks of the previous one's public surface: removals and changed signatures.

Two readers, one rule. surface.py says *which* names are public (the
``__all__`` of public modules, read with ``ast`` at any commit) and which of
them the tree no longer has. griffe (pinned in .ci/release-tools.txt and
hatch.toml) compares the previous release's sources with the tree's, as a
``griffe check`` would, and says *how* each object changed: a parameter
removed, renamed, made required or moved, a return type, a base class. Only
changes to public objects (a public name, or a member of one) count, so an
internal refactor (``ports``, ``repository``, ``tables``, ``_*`` modules) is
never a break. Both read sources statically: nothing is imported or installed.

A changed default value (of a parameter or a constant) is reported as a
note, not a break: the policy lets a minor release change a default, with a
changelog line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from releases import RELEASABLE, ROOT
from surface import removed_names, surface

__all__ = ["ApiDiff", "api_diff"]

ANSI = re.compile(r"\x1b\[[0-9;]*m")
LOCATION = re.compile(r"^\S+:\d+: ")


@dataclass
class ApiDiff:
    breaks: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _public(path: str, public: dict[str, set[str]]) -> bool:
    for module, names in public.items():
        for name in names:
            qualified = f"{module}.{name}"
            if path == qualified or path.startswith(qualified + "."):
                return True
    return False


def api_diff(name: str, old_commit: str, root: Path = ROOT) -> ApiDiff:
    """The public names the tree removed or changed since ``old_commit``'s release."""
    import griffe  # the release tools have it; importing it late keeps surface-only uses light

    old_surface = surface(name, old_commit, root)
    diff = ApiDiff(
        breaks=[f"{n}: removed" for n in removed_names(old_surface, surface(name, None, root))]
    )
    removed = {entry.split(":")[0] for entry in diff.breaks}
    package = "acme." + name.removeprefix("acme-")
    src = root / RELEASABLE[name] / "src"
    old = griffe.load_git(
        package, ref=old_commit, repo=root, search_paths=[src.relative_to(root)],
        allow_inspection=False,
    )  # fmt: skip
    new = griffe.load(package, search_paths=[src], allow_inspection=False)
    notes_only = {griffe.BreakageKind.PARAMETER_CHANGED_DEFAULT,
                  griffe.BreakageKind.ATTRIBUTE_CHANGED_VALUE}  # fmt: skip
    for breakage in griffe.find_breaking_changes(old, new):
        path = breakage.obj.path
        if not _public(path, old_surface) or path in removed:
            continue
        # griffe's one line: "file:line: name(param): what: old -> new", colored.
        what = LOCATION.sub(
            "", ANSI.sub("", breakage.explain(style=griffe.ExplanationStyle.ONE_LINE))
        )
        named = re.match(r"[\w.]+", what)
        token = named.group() if named else ""
        entry = path[: -len(token)] + what if token and path.endswith(token) else f"{path}: {what}"
        (diff.notes if breakage.kind in notes_only else diff.breaks).append(entry)
    return diff
