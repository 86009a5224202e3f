"""The workspace is coherent: every declared range admits the sibling in the tree.

The API's exact pins (its "released" group) may lag behind the tree: they
name released versions (checked in .ci/tests/test_release.py), not the tree's.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[3]
PROJECTS = {
    "acme-core": ROOT / "packages" / "acme-core",
    "acme-accounts": ROOT / "packages" / "acme-accounts",
    "acme-items": ROOT / "packages" / "acme-items",
    "acme-api": ROOT / "services" / "api",
}


def project(path: Path) -> dict[str, object]:
    data = tomllib.loads((path / "pyproject.toml").read_text())
    table: dict[str, object] = data["project"]
    version_file = path / data["tool"]["hatch"]["version"]["path"]
    match = re.search(r'__version__ = "([^"]+)"', version_file.read_text())
    assert match, f"no __version__ in {version_file}"
    table["version"] = match.group(1)
    return table


def test_each_package_has_one_version_source() -> None:
    for name, path in PROJECTS.items():
        table = project(path)
        assert table["dynamic"] == ["version"], name
        Version(str(table["version"]))


def test_sibling_requirements_admit_the_tree_versions() -> None:
    versions = {name: Version(str(project(path)["version"])) for name, path in PROJECTS.items()}
    for name, path in PROJECTS.items():
        for line in project(path)["dependencies"]:  # type: ignore[attr-defined]
            requirement = Requirement(line)
            if requirement.name in versions:
                assert requirement.specifier.contains(versions[requirement.name]), (
                    f"{name} requires {requirement}, the tree has {versions[requirement.name]}"
                )


def test_components_use_ranges_and_the_api_pins_exactly() -> None:
    for name in ("acme-accounts", "acme-items"):
        requirements = [Requirement(d) for d in project(PROJECTS[name])["dependencies"]]  # type: ignore[attr-defined]
        core = [r for r in requirements if r.name == "acme-core"]
        assert len(core) == 1
        assert any(s.operator == "<" for s in core[0].specifier), f"{name}: no upper bound"
        assert not [r for r in requirements if r.name in {"acme-accounts", "acme-items"} - {name}]
    api = tomllib.loads((PROJECTS["acme-api"] / "pyproject.toml").read_text())
    declared = {
        r.name: r for r in map(Requirement, api["project"]["dependencies"]) if r.name in PROJECTS
    }
    pins = {r.name: r for r in map(Requirement, api["dependency-groups"]["released"])}
    assert set(pins) == set(declared) == {"acme-core", "acme-accounts", "acme-items"}
    for name, pin in pins.items():
        (spec,) = pin.specifier
        assert spec.operator == "==", pin
        # The pin ships what the code declares: inside its range, with its extras.
        assert declared[name].specifier.contains(spec.version), (pin, declared[name])
        assert any(s.operator == "<" for s in declared[name].specifier), declared[name]
        assert pin.extras == declared[name].extras, (pin, declared[name])
