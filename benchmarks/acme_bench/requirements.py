"""Which third-party requirements a set of installed acme wheels needs.

Used when a version comes from wheels or a private index: the acme wheels are
installed with ``--no-deps`` (only from where they were asked for, never from
PyPI: a public package of the same name must not win), then their
third-party requirements come from the public index. This module reads the
``Requires-Dist`` lines of the installed acme dists, evaluates their markers
with the extras that were asked for, and splits the result.

Uses only ``packaging`` (always present beside pip, uv and hatch).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from email.parser import HeaderParser
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

__all__ = ["Dist", "acme_requirements", "read_installed", "third_party_requirements"]

ACME_PREFIX = "acme-"


@dataclass(frozen=True)
class Dist:
    """An installed distribution: its name, version and requirements."""

    name: str
    version: str
    requires: tuple[str, ...] = field(default=())


def read_installed(site_packages: Path) -> dict[str, Dist]:
    """Every distribution installed in a ``site-packages``, by canonical name."""
    found: dict[str, Dist] = {}
    for metadata in site_packages.glob("*.dist-info/METADATA"):
        headers = HeaderParser().parsestr(metadata.read_text(encoding="utf-8", errors="replace"))
        name = headers.get("Name")
        if not name:
            continue
        requires = tuple(headers.get_all("Requires-Dist") or ())
        found[canonicalize_name(name)] = Dist(name, headers.get("Version", ""), requires)
    return found


def _wanted(requirement: Requirement, extras: Iterable[str]) -> bool:
    if requirement.marker is None:
        return True
    return any(requirement.marker.evaluate({"extra": extra}) for extra in ("", *extras))


def _walk(
    roots: Iterable[str], installed: Mapping[str, Dist]
) -> tuple[dict[str, set[str]], list[Requirement]]:
    """Follow requirements from ``roots`` through installed acme dists.

    Returns the acme dists reached with the extras asked of each, and every
    requirement met on the way.
    """
    extras: dict[str, set[str]] = {}
    met: list[Requirement] = []
    pending = [Requirement(root) for root in roots]
    while pending:
        requirement = pending.pop()
        name = canonicalize_name(requirement.name)
        asked = set(requirement.extras)
        if name in extras and asked <= extras[name]:
            continue
        extras.setdefault(name, set()).update(asked)
        dist = installed.get(name)
        if dist is None or not name.startswith(ACME_PREFIX):
            continue
        for line in dist.requires:
            child = Requirement(line)
            if _wanted(child, extras[name]):
                child.marker = None
                met.append(child)
                pending.append(child)
    return {n: e for n, e in extras.items() if n.startswith(ACME_PREFIX)}, met


def acme_requirements(roots: Iterable[str], installed: Mapping[str, Dist]) -> list[str]:
    """The acme requirements (with their pins) reachable from ``roots`` and not installed yet."""
    _, met = _walk(roots, installed)
    missing = {
        str(r)
        for r in met
        if canonicalize_name(r.name).startswith(ACME_PREFIX)
        and canonicalize_name(r.name) not in installed
    }
    return sorted(missing)


def third_party_requirements(roots: Iterable[str], installed: Mapping[str, Dist]) -> list[str]:
    """Every non-acme requirement of the acme dists reachable from ``roots``."""
    _, met = _walk(roots, installed)
    return sorted({str(r) for r in met if not canonicalize_name(r.name).startswith(ACME_PREFIX)})
