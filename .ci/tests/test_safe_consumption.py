"""The pieces of the consumer and image-layer checks that run without indexes.

The checks themselves (.ci/consumers.py, .ci/image_layer.py) are .ci/run
stages: they start loopback indexes and install for real.
"""

from __future__ import annotations

import re
import sys
import zipfile
from pathlib import Path

from packaging.requirements import Requirement

CI = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(CI))

import consumers  # noqa: E402
import image_layer  # noqa: E402
import loopback  # noqa: E402
import lowest  # noqa: E402


def test_each_tool_has_a_documented_setup_and_an_unsafe_control() -> None:
    docs = consumers.documented()
    assert set(docs) == {"pip", "uv", "poetry"}
    for text in docs.values():
        assert consumers.PLACEHOLDER_PRIVATE in text
    # uv: the acme index comes first and uv stops at the first index with a name.
    uv = docs["uv"]
    assert 'index-strategy = "first-index"' in uv
    assert uv.index(consumers.PLACEHOLDER_PRIVATE) < uv.index(consumers.PLACEHOLDER_PUBLIC)
    setups = consumers.setups("http://private/", "http://mirror/", "http://public/")
    assert {(s.tool, s.safe) for s in setups} == {
        (tool, safe) for tool in ("pip", "uv", "poetry") for safe in (True, False)
    }
    for setup in setups:
        assert "pypi.acme.example" not in setup.config, setup.label
        assert "pypi.org" not in setup.config, setup.label
    unsafe_poetry = next(s for s in setups if s.tool == "poetry" and not s.safe)
    assert "acme-core" not in unsafe_poetry.config


def test_the_stand_in_wheel_is_a_wheel_whose_record_matches(tmp_path: Path) -> None:
    wheel = loopback.standin_wheel(tmp_path, "acme-core", "1.99.0")
    assert wheel.name == "acme_core-1.99.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as archive:
        record = archive.read("acme_core-1.99.0.dist-info/RECORD").decode().splitlines()
        metadata = archive.read("acme_core-1.99.0.dist-info/METADATA").decode()
        assert "Name: acme-core\nVersion: 1.99.0" in metadata
        listed = {line.split(",")[0] for line in record}
        assert listed == set(archive.namelist())


def test_the_image_build_stage_installs_everything_with_hashes() -> None:
    stage = image_layer.build_stage()
    assert ("ARG", "ACME_WHEELS=index") in stage
    installs = [args for keyword, args in stage if keyword == "RUN" and "pip install" in args]
    requirement_files = re.findall(r"pip install ([^;&]*?-r \S+)", " ".join(installs))
    # the lock, the released pins (index) and the tree's wheels (tree)
    assert len(requirement_files) == 3
    for command in requirement_files:
        assert "--require-hashes" in command, command
        assert "--extra-index-url" not in command, command


def test_the_builder_maps_image_paths_but_not_lookalikes(tmp_path: Path) -> None:
    builder = image_layer.Builder(tmp_path, {"/opt/acme": tmp_path / "prefix"}, {})
    assert builder.map("/opt/acme/bin/pip x") == f"{tmp_path}/prefix/bin/pip x"
    assert builder.map("/opt/acmex /x/opt/acme") == "/opt/acmex /x/opt/acme"


def test_lowest_installs_what_applies_with_every_extra_as_direct_requirements() -> None:
    requires = [
        Requirement("pydantic>=2.11,<3"),
        Requirement('asyncpg>=0.31; extra == "postgres"'),
        Requirement('aio-pika>=9.5; extra == "rabbitmq"'),
    ]
    assert lowest.declared(requires, ["postgres"]) == ["pydantic<3,>=2.11", "asyncpg>=0.31"]
