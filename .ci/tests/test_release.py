"""Per-package releases: tags, sibling selection, and the rehearsal against a private index."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from acme.core.testing import services_required

ROOT = Path(__file__).resolve().parents[2]


def version_of(release: ModuleType, name: str) -> str:
    return str(release.package_version(ROOT / release.RELEASABLE[name]))


def test_a_tag_names_a_package_and_its_version(release: ModuleType, tmp_path: Path) -> None:
    version = version_of(release, "acme-core")
    package = tmp_path / "packages" / "acme-core"
    (package / "src").mkdir(parents=True)
    (package / "pyproject.toml").write_text('[tool.hatch.version]\npath = "src/__about__.py"\n')
    (package / "src" / "__about__.py").write_text(f'__version__ = "{version}"\n')
    (package / "CHANGELOG.md").write_text(f"# Changelog\n\n## [{version}] - 2026-11-27\n")

    plan = release.plan(f"acme-core-v{version}", root=tmp_path)

    assert plan == {
        "name": "acme-core",
        "path": "packages/acme-core",
        "version": version,
        "modes": '["tree"]',
    }


@pytest.mark.parametrize(
    ("tag", "message"),
    [
        ("acme-core==1.0.0", "is not a release tag"),
        ("v1.0.0", "is not a release tag"),
        ("acme-api-v1.0.0", "is not released on its own"),
        ("acme-core-v9.9.9", "version source says"),
    ],
)
def test_a_bad_tag_is_refused_with_the_reason(release: ModuleType, tag: str, message: str) -> None:
    with pytest.raises(release.ReleaseError, match=message):
        release.plan(tag)


def test_a_release_needs_its_changelog_section(release: ModuleType) -> None:
    version = version_of(release, "acme-items")
    changelog = (ROOT / "packages/acme-items/CHANGELOG.md").read_text()
    if f"## [{version}]" in changelog:
        pytest.skip(f"acme-items {version} already has its changelog section")
    with pytest.raises(release.ReleaseError, match="has no section for"):
        release.plan(f"acme-items-v{version}")


def test_siblings_are_the_lowest_or_newest_released_version_the_range_allows(
    release: ModuleType,
) -> None:
    versions = [Version(v) for v in ("0.9.0", "1.0.0", "1.3.2", "1.4.0", "2.0.0", "1.5.0rc1")]
    requirement = Requirement("acme-core>=1.0,<2")

    assert release.pick(versions, requirement, "lowest") == Version("1.0.0")
    assert release.pick(versions, requirement, "newest") == Version("1.4.0")
    assert release.pick(versions, Requirement("acme-core>=3"), "newest") is None


def test_the_test_tools_are_the_workspace_pins(release: ModuleType) -> None:
    pins = release.pinned_test_tools()
    assert {Requirement(p).name for p in pins} == set(release.TEST_TOOLS)
    assert all("==" in p or ">=" in p for p in pins)


def test_the_rehearsal_runs_the_workflows_publish_command(rehearsal: ModuleType) -> None:
    command, variables = rehearsal.publish_step()
    assert command.strip() == "uv publish dist/*"
    assert set(variables) == {"UV_PUBLISH_URL", "UV_PUBLISH_USERNAME", "UV_PUBLISH_PASSWORD"}


@pytest.mark.integration
def test_release_rehearsal_against_a_private_index(rehearsal: ModuleType) -> None:
    """Publish, install acme-core alone and the API's pinned set, re-publish refused."""
    wheelhouse = rehearsal.DEFAULT_WHEELHOUSE
    missing = rehearsal.missing_from(wheelhouse) if wheelhouse.exists() else ["everything"]
    if missing:
        reason = (
            f"the wheelhouse {wheelhouse} is incomplete; `hatch run release-rehearsal` fills it"
        )
        if services_required():
            pytest.fail(reason)
        pytest.skip(reason)

    result = subprocess.run(
        [sys.executable, str(ROOT / ".ci" / "rehearse_release.py"), "--offline"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )

    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "anonymous listing answered 401" in output
    assert "Uploading acme_core-" in output
    assert "installed and imported acme-core " in output
    assert "acme-items==" in output
    assert "acme-api " in output
    assert "409 Conflict" in output
    assert "re-publishing was refused" in output
    assert "rehearsal-only-password" not in output
