"""Working out what a set of installed acme dists needs from the public index."""

from __future__ import annotations

from pathlib import Path

from acme_bench.versions import requirements


def dist(site: Path, name: str, version: str, *requires: str) -> None:
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    lines = ["Metadata-Version: 2.4", f"Name: {name}", f"Version: {version}"]
    lines += [f"Requires-Dist: {r}" for r in requires]
    (info / "METADATA").write_text("\n".join(lines) + "\n\nA long description.\n")


def test_extras_asked_by_the_api_pull_in_their_requirements(tmp_path: Path) -> None:
    dist(
        tmp_path,
        "acme-api",
        "1.2.0",
        "acme-core[postgres]==1.1.0",
        "acme-items==1.0.0",
        "fastapi<1,>=0.115",
    )
    dist(
        tmp_path,
        "acme-core",
        "1.1.0",
        "sqlalchemy>=2",
        "asyncpg>=0.29; extra == 'postgres'",
        "aiosqlite>=0.20; extra == 'sqlite'",
        "tomli; python_version < '3.0'",
    )
    # acme-items is pinned by the API but not installed yet: it comes from the same place
    assert requirements(tmp_path)[0] == ["acme-items==1.0.0"]

    dist(tmp_path, "acme-items", "1.0.0", "acme-core<2,>=1.0", "orjson>=3")
    assert requirements(tmp_path) == (
        [],
        [
            "asyncpg>=0.29",  # the postgres extra the API asked for
            "fastapi<1,>=0.115",
            "orjson>=3",
            "sqlalchemy>=2",
        ],
    )  # not aiosqlite (extra not asked), not tomli (marker false)


def test_without_the_api_the_api_is_what_is_missing(tmp_path: Path) -> None:
    assert requirements(tmp_path) == (["acme-api"], [])
