"""A change retests the packages it touches and everything depending on them."""

from __future__ import annotations

from types import ModuleType

ALL = ["acme-core", "acme-accounts", "acme-items", "acme-api", "deploy", "benchmarks", "ci"]


def test_the_graph_comes_from_the_pyprojects(affected: ModuleType) -> None:
    graph = affected.dependencies()

    assert graph["acme-core"] == set()
    assert graph["acme-accounts"] == {"acme-core"}
    assert graph["acme-items"] == {"acme-core"}
    assert graph["acme-api"] == {"acme-core", "acme-accounts", "acme-items"}
    assert graph["deploy"] == {"acme-api"}
    assert graph["ci"] == {"acme-api"}


def test_a_core_change_retests_every_dependant(affected: ModuleType) -> None:
    graph = affected.dependencies()
    assert affected.affected(["packages/acme-core/src/acme/core/errors.py"], graph) == ALL


def test_a_component_change_retests_it_and_the_api_only(affected: ModuleType) -> None:
    graph = affected.dependencies()
    assert affected.affected(["packages/acme-items/src/acme/items/models.py"], graph) == [
        "acme-items",
        "acme-api",
        "deploy",
        "benchmarks",
        "ci",
    ]
    # The benchmark runner renders deploy/'s edge template through deploy/stackkit.
    assert affected.affected(["deploy/nginx/templates/acme.conf.template"], graph) == [
        "deploy",
        "benchmarks",
    ]
    assert affected.affected(["deploy/stackkit/nginx.py"], graph) == ["deploy", "benchmarks"]


def test_workspace_configuration_retests_everything_and_docs_nothing(affected: ModuleType) -> None:
    graph = affected.dependencies()
    assert affected.affected(["hatch.toml"], graph) == ALL
    assert affected.affected([".github/workflows/ci.yml"], graph) == ALL
    assert affected.affected(["ARCHITECTURE.md", "LICENSE"], graph) == []
    assert affected.affected(["benchmarks/README.md"], graph) == ["benchmarks"]


def test_an_unknown_base_means_everything(affected: ModuleType) -> None:
    assert affected.changed_files("0" * 40) == ["<everything>"]
    assert affected.changed_files("no-such-ref-anywhere") == ["<everything>"]
