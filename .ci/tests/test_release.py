"""The release tooling: release commits from history, plan, prepare and adopt.

Each test builds a small git repository with the monorepo's layout in a
temporary directory; the last ones check this repository's own pins.
"""

from __future__ import annotations

import datetime
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from packaging.version import Version

CI = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(CI))

import adopt  # noqa: E402
import release  # noqa: E402
import releases  # noqa: E402

ROOT = CI.parent
TODAY = datetime.date(2026, 12, 1)


@pytest.fixture(autouse=True)
def _fresh_release_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    releases.releases.cache_clear()
    monkeypatch.setattr(releases, "CACHE", tmp_path / "cache")


def git(repo: Path, *args: str) -> str:
    env = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@localhost",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@localhost",
        "PATH": "/usr/bin:/bin",
    }
    return subprocess.run(
        ["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True
    ).stdout.strip()


def write_package(repo: Path, name: str, version: str, changelog: str) -> None:
    short = name.removeprefix("acme-")
    path = repo / "packages" / name
    (path / "src" / "acme" / short).mkdir(parents=True, exist_ok=True)
    (path / "pyproject.toml").write_text(
        f'[project]\nname = "{name}"\ndynamic = ["version"]\n'
        f'[tool.hatch.version]\npath = "src/acme/{short}/__about__.py"\n'
    )
    (path / "src" / "acme" / short / "__about__.py").write_text(f'__version__ = "{version}"\n')
    (path / "CHANGELOG.md").write_text(f"# Changelog\n\n## [Unreleased]\n{changelog}")


def commit(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    for name in releases.RELEASABLE:
        write_package(repo, name, "1.0.0", "\n### Added\n- Everything.\n")
    commit(repo, "the packages")
    return repo


def test_a_version_is_released_at_its_first_commit_with_a_changelog_section(repo: Path) -> None:
    assert releases.releases("acme-items", repo) == {}
    release.prepare("acme-items", "1.0.0", today=TODAY, root=repo)  # the first release
    first = commit(repo, "release 1.0.0")
    (repo / "packages/acme-items/README.md").write_text("a later, unreleased change\n")
    commit(repo, "a change after the release")
    write_package(repo, "acme-items", "1.0.1", "\n## [1.0.0] - 2026-12-01\n")
    commit(repo, "bumped, but no changelog section yet: not a release")
    releases.releases.cache_clear()
    assert releases.releases("acme-items", repo) == {Version("1.0.0"): first}
    with pytest.raises(releases.ReleaseError, match=r"acme-items 1\.0\.1 is not released"):
        releases.release_commit("acme-items", "1.0.1", repo)


def test_a_release_tag_names_the_release_commit(repo: Path) -> None:
    tagged = git(repo, "rev-parse", "HEAD")
    git(repo, "tag", "acme-core-v1.0.0")
    (repo / "x").write_text("later")
    commit(repo, "later")
    assert releases.release_commit("acme-core", "1.0.0", repo) == tagged


def test_a_shallow_clone_is_refused_with_what_to_do(repo: Path, tmp_path: Path) -> None:
    for _ in range(2):
        (repo / "x").write_text(str(_))
        commit(repo, "more")
    shallow = tmp_path / "shallow"
    subprocess.run(["git", "clone", "-q", "--depth", "1", repo.as_uri(), str(shallow)], check=True)
    with pytest.raises(releases.ReleaseError, match=r"shallow.*git fetch --unshallow"):
        releases.releases("acme-core", shallow)


def test_prepare_bumps_and_cuts_the_changelog_section(repo: Path) -> None:
    release.prepare("acme-items", "1.0.0", today=TODAY, root=repo)
    commit(repo, "release 1.0.0")
    releases.releases.cache_clear()
    with pytest.raises(releases.ReleaseError, match="nothing under Unreleased"):
        release.prepare("acme-items", "patch", today=TODAY, root=repo)
    changelog = repo / "packages/acme-items/CHANGELOG.md"
    changelog.write_text(
        changelog.read_text().replace(
            "## [Unreleased]\n", "## [Unreleased]\n\n### Fixed\n- A fix.\n"
        )
    )
    assert release.prepare("acme-items", "patch", today=TODAY, root=repo) == Version("1.0.1")
    text = changelog.read_text()
    assert "## [Unreleased]\n\n## [1.0.1] - 2026-12-01\n\n### Fixed\n- A fix.\n" in text
    assert (
        '__version__ = "1.0.1"'
        in (repo / "packages/acme-items/src/acme/items/__about__.py").read_text()
    )
    with pytest.raises(releases.ReleaseError, match="does not follow"):
        release.prepare("acme-core", "0.9.0", today=TODAY, root=repo)


@pytest.fixture
def released_repo(repo: Path) -> Path:
    """acme-items 1.0.1 released on main, and a side branch off it."""
    for name in releases.RELEASABLE:
        release.prepare(name, "1.0.0", today=TODAY, root=repo)
    commit(repo, "release 1.0.0")
    releases.releases.cache_clear()
    changelog = repo / "packages/acme-items/CHANGELOG.md"
    changelog.write_text(
        changelog.read_text().replace("## [Unreleased]\n", "## [Unreleased]\n### Fixed\n- A fix.\n")
    )
    release.prepare("acme-items", "patch", today=TODAY, root=repo)
    commit(repo, "release acme-items 1.0.1")
    releases.releases.cache_clear()
    return repo


def test_plan_accepts_a_tag_on_main_that_agrees(released_repo: Path) -> None:
    planned = release.plan("acme-items-v1.0.1", main="main", root=released_repo)
    assert planned["path"] == "packages/acme-items"
    assert planned["modes"] == '["lowest", "newest", "tree"]'
    git(
        released_repo,
        "checkout",
        "-q",
        releases.release_commit("acme-core", "1.0.0", released_repo),
    )
    assert release.plan("acme-core-v1.0.0", main="main", root=released_repo)["modes"] == '["tree"]'


def test_plan_refuses_a_tag_on_any_commit_but_the_release_commit(released_repo: Path) -> None:
    (released_repo / "packages/acme-items/src/acme/items/fix.py").write_text("later = 1\n")
    commit(released_repo, "a change after the release commit, same version")
    releases.releases.cache_clear()
    with pytest.raises(releases.ReleaseError, match=r"but the release commit is [0-9a-f]{12}"):
        release.plan("acme-items-v1.0.1", main="main", root=released_repo)


@pytest.mark.parametrize(
    ("tag", "message"),
    [
        ("acme-items-1.0.1", "is not a release tag"),
        ("acme-api-v1.0.1", "is not released on its own"),
        ("acme-order-history-v1.0.0", "'acme-order-history' is not released on its own"),
        ("acme-items-v1.0.2", "version source says 1.0.1"),
    ],
)
def test_plan_refuses_a_tag_that_disagrees(released_repo: Path, tag: str, message: str) -> None:
    with pytest.raises(releases.ReleaseError, match=message):
        release.plan(tag, main="main", root=released_repo)


def test_plan_refuses_a_version_without_a_changelog_section(released_repo: Path) -> None:
    write_package(released_repo, "acme-core", "1.1.0", "\n")
    commit(released_repo, "bumped without a section")
    with pytest.raises(releases.ReleaseError, match=r"no section for 1\.1\.0"):
        release.plan("acme-core-v1.1.0", main="main", root=released_repo)


def test_plan_refuses_a_tag_that_is_not_on_main(released_repo: Path) -> None:
    git(released_repo, "checkout", "-q", "-b", "side")
    (released_repo / "x").write_text("side")
    commit(released_repo, "on a side branch")
    with pytest.raises(releases.ReleaseError, match="is not on main"):
        release.plan("acme-items-v1.0.1", main="main", root=released_repo)


def api_project(repo: Path, items_pin: str = "1.0.0") -> None:
    api = repo / "services" / "api"
    api.mkdir(parents=True, exist_ok=True)
    (api / "pyproject.toml").write_text(
        '[project]\nname = "acme-api"\ndependencies = [\n'
        '  "acme-core[postgres]>=1.0,<2",\n  "acme-items>=1.0,<2",\n]\n\n'
        "[dependency-groups]\nreleased = [\n"
        f'  "acme-core[postgres]==1.0.0",\n  "acme-items=={items_pin}",\n]\n'
    )
    (api / "CHANGELOG.md").write_text("# Changelog\n\n## [Unreleased]\n\n## [1.0.0] - x\n")


def test_adopt_moves_only_the_pin_and_notes_it(released_repo: Path) -> None:
    api_project(released_repo)
    assert adopt.move_pin("acme-items", Version("1.0.1"), released_repo) == "1.0.0"
    assert adopt.move_pin("acme-items", Version("1.0.1"), released_repo) is None
    text = (released_repo / "services/api/pyproject.toml").read_text()
    assert '"acme-items==1.0.1"' in text
    assert '"acme-items>=1.0,<2"' in text
    assert '"acme-core[postgres]==1.0.0"' in text
    adopt.note_in_changelog("acme-items", Version("1.0.1"), released_repo)
    adopt.note_in_changelog("acme-items", Version("1.0.1"), released_repo)
    changelog = (released_repo / "services/api/CHANGELOG.md").read_text()
    assert changelog.count("- Adopted acme-items 1.0.1.") == 1
    assert changelog.index("Adopted") < changelog.index("## [1.0.0]")


def test_adopt_refuses_what_is_not_released_or_outside_the_range(
    released_repo: Path, tmp_path: Path
) -> None:
    api_project(released_repo)
    with pytest.raises(releases.ReleaseError, match=r"1\.0\.2 is not released"):
        adopt.adopt("acme-items", Version("1.0.2"), tests=False, pytest_args=[], root=released_repo)
    write_package(released_repo, "acme-items", "2.0.0", "\n## [2.0.0] - x\n")
    commit(released_repo, "release 2.0.0")
    releases.releases.cache_clear()
    with pytest.raises(releases.ReleaseError, match="outside the API's declared range"):
        adopt.adopt("acme-items", Version("2.0.0"), tests=False, pytest_args=[], root=released_repo)
    assert '"acme-items==1.0.0"' in (released_repo / "services/api/pyproject.toml").read_text()


def test_the_api_pins_released_versions_of_this_history() -> None:
    # Every pin has a release commit here, so the API's tests can run on it
    # without an index (.ci/release test-api) and the image can be built.
    pins = releases.api_pins(ROOT)
    assert {pin.name for pin in pins} == set(releases.RELEASABLE)
    for pin in pins:
        (spec,) = pin.specifier
        commit = releases.release_commit(pin.name, spec.version, ROOT)
        assert len(commit) == 40


def test_every_step_of_the_release_workflow_is_one_call_of_ci_release() -> None:
    workflow = yaml.safe_load((ROOT / ".github/workflows/release.yml").read_text())
    stages = set()
    for job in workflow["jobs"].values():
        uses = [step.get("uses", "").split("@")[0] for step in job["steps"]]
        if "actions/download-artifact" in uses and "actions/checkout" in uses:
            # A checkout empties the workspace: it must come before the download.
            assert uses.index("actions/checkout") < uses.index("actions/download-artifact")
        for step in job["steps"]:
            if "run" not in step:
                continue
            command = step["run"].split("#")[0].strip()
            assert "\n" not in command, step
            if command.startswith("gh release create "):
                continue  # the GitHub release page: nothing of it to rehearse on loopback
            assert command.startswith(".ci/release "), step
            stages.add(command.split()[1])
    assert stages == {"plan", "build", "sbom", "test", "publish"}
    # ...and the rehearsal in .ci/run calls each of them the same way.
    rehearsal = (CI / "rehearse_release.py").read_text()
    for stage in stages:
        assert re.search(rf'self\.release\(\s*"{stage}"', rehearsal), stage


def test_plan_refuses_a_minor_release_that_removes_a_public_name(released_repo: Path) -> None:
    interface = released_repo / "packages/acme-items/src/acme/items/interface.py"
    interface.write_text('__all__ = ["create_item", "delete_item"]\n')
    internal = released_repo / "packages/acme-items/src/acme/items/repository.py"
    internal.write_text('__all__ = ["SqlItemRepository"]\n')
    commit(released_repo, "public and internal names")
    changelog = released_repo / "packages/acme-items/CHANGELOG.md"
    for version in ("1.1.0", "2.0.0", "2.1.0"):
        changelog.write_text(
            changelog.read_text().replace("## [Unreleased]\n", "## [Unreleased]\n- x\n")
        )
        if version == "2.1.0":
            break
        release.prepare("acme-items", version, today=TODAY, root=released_repo)
        commit(released_repo, f"release {version}")
        releases.releases.cache_clear()
    # 1.1.0 and 2.0.0 are released with both names; 2.1.0's release commit
    # drops one of each.
    interface.write_text('__all__ = ["create_item"]\n')
    internal.write_text("__all__ = []\n")
    release.prepare("acme-items", "2.1.0", today=TODAY, root=released_repo)
    commit(released_repo, "release 2.1.0, removing a public name")
    releases.releases.cache_clear()
    with pytest.raises(
        releases.ReleaseError,
        match=r"removes or changes public names of 2\.0\.0 "
        r"\(acme\.items\.interface\.delete_item: removed\): "
        r"that is a major release",
    ):
        release.plan("acme-items-v2.1.0", main="main", root=released_repo)
    assert release.removals_since_release("acme-items", Version("2.1.0"), released_repo) == [
        "acme.items.interface.delete_item"  # the internal repository's name is not public
    ]
    # The same release commit keeping the name plans.
    git(released_repo, "reset", "-q", "--hard", "HEAD~1")
    releases.releases.cache_clear()
    changelog.write_text(
        changelog.read_text().replace("## [Unreleased]\n", "## [Unreleased]\n- x\n")
    )
    release.prepare("acme-items", "2.1.0", today=TODAY, root=released_repo)
    commit(released_repo, "release 2.1.0")
    releases.releases.cache_clear()
    assert release.plan("acme-items-v2.1.0", main="main", root=released_repo)["version"] == "2.1.0"


def test_the_tree_removes_no_public_name_of_its_major() -> None:
    # The gate for every change: a public name of the latest release of the
    # tree's major version is still there (or the version source says a new
    # major). .ci/release api-diff prints the same.
    for name in releases.RELEASABLE:
        version = releases.tree_version(name, ROOT)
        after = Version(f"{version.major}.{version.minor}.{version.micro + 1}")
        previous = release.previous_release(name, after, ROOT)
        if previous is not None and previous.major == version.major:
            assert release.removals_since_release(name, after, ROOT) == [], name


def test_the_surface_reads_every_form_of_all() -> None:
    import surface

    source = '__all__: list[str] = ["a", "b"]\n__all__ += ["c"]\n'
    assert surface._all_of(source) == {"a", "b", "c"}
    assert surface._all_of('__all__ = ("x",)\n') == {"x"}


INTERFACE = """__all__ = ["create_item", "delete_item"]


def create_item(owner: str, title: str, *, tags: list[str] | None = None) -> str:
    return title


def delete_item(owner: str, item_id: str) -> None:
    return None
"""
REPOSITORY = """__all__ = ["SqlItemRepository", "row_to_item"]


class SqlItemRepository:
    def get(self, item_id: str) -> str:
        return item_id


def row_to_item(row: dict[str, str]) -> str:
    return row["id"]
"""


def release_commit_with(repo: Path, version: str, files: dict[str, str]) -> None:
    """A release commit of acme-items ``version`` whose tree holds ``files``."""
    src = repo / "packages/acme-items/src/acme/items"
    for name, text in files.items():
        (src / name).write_text(text)
    changelog = repo / "packages/acme-items/CHANGELOG.md"
    changelog.write_text(
        changelog.read_text().replace("## [Unreleased]\n", "## [Unreleased]\n### Fixed\n- x\n")
    )
    release.prepare("acme-items", version, today=TODAY, root=repo)
    commit(repo, f"release acme-items {version}")
    releases.releases.cache_clear()


@pytest.mark.parametrize(
    ("interface", "named"),
    [
        (INTERFACE.replace(', "delete_item"', "").split("\n\ndef delete_item")[0],
         r"acme\.items\.interface\.delete_item: removed"),
        (INTERFACE.replace(", *, tags: list[str] | None = None", ""),
         r"acme\.items\.interface\.create_item\(tags\): Parameter was removed"),
        (INTERFACE.replace("owner: str, title: str", "title: str, owner: str"),
         r"acme\.items\.interface\.create_item\((owner|title)\): Positional parameter was moved"),
    ],
    ids=["a public function removed", "a parameter removed", "parameters swapped"],
)  # fmt: skip
def test_plan_refuses_a_patch_release_that_removes_or_changes_a_public_function(
    released_repo: Path, interface: str, named: str
) -> None:
    release_commit_with(
        released_repo, "1.0.2", {"interface.py": INTERFACE, "repository.py": REPOSITORY}
    )
    release_commit_with(released_repo, "1.0.3", {"interface.py": interface})
    with pytest.raises(
        releases.ReleaseError,
        match=rf"acme-items 1\.0\.3 removes or changes public names of 1\.0\.2 \(.*{named}",
    ):
        release.plan("acme-items-v1.0.3", main="main", root=released_repo)


def test_plan_lets_a_patch_release_refactor_internals(released_repo: Path) -> None:
    release_commit_with(
        released_repo, "1.0.2", {"interface.py": INTERFACE, "repository.py": REPOSITORY}
    )
    # The repository (internal to a component) loses a helper and changes a
    # signature; a default of a public function changes (a note, not a break).
    refactored = REPOSITORY.replace(', "row_to_item"', "").split("\n\ndef row_to_item")[0]
    refactored = refactored.replace("def get(self, item_id: str)", "def get(self, key: int)")
    release_commit_with(
        released_repo,
        "1.0.3",
        {"repository.py": refactored, "interface.py": INTERFACE.replace("= None", "= ()")},
    )
    assert release.plan("acme-items-v1.0.3", main="main", root=released_repo)["version"] == "1.0.3"
    diff = release.breaks_since_release("acme-items", Version("1.0.3"), released_repo)
    assert diff.breaks == []
    assert [n.split(":")[0] for n in diff.notes] == ["acme.items.interface.create_item(tags)"]
