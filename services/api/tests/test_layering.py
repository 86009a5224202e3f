"""The import-linter contracts hold, and each one fails when the rule it states is broken.

One copy of the source trees gets every forbidden import of ``BREAKS`` and
lint-imports runs once against it (the copies shadow the installed packages):
each contract must be reported broken, naming each import.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import acme.items

ROOT = Path(__file__).resolve().parents[3]
SOURCES = [
    ROOT / "packages" / "acme-core" / "src",
    ROOT / "packages" / "acme-accounts" / "src",
    ROOT / "packages" / "acme-items" / "src",
    ROOT / "services" / "api" / "src",
]


# The contracts are about the tree's sources. Run on installed, pinned wheels
# (.ci/release test-api), the wheels' own copies sit in site-packages beside
# the trees and would be scanned too: the tree's run of this module decides.
if not Path(acme.items.__file__).resolve().is_relative_to(ROOT / "packages"):
    pytestmark = pytest.mark.skip(
        reason="the components are installed wheels, not the tree: layering is checked on the tree"
    )


def lint_imports(sources: list[Path]) -> subprocess.CompletedProcess[str]:
    """Run lint-imports seeing only ``sources`` as the acme packages.

    ``-S`` skips site initialisation, so the editable installs' ``.pth`` files
    are not processed and only the given trees provide ``acme``; the
    environment's site-packages is added as a plain path for import-linter.
    """
    site_packages = next(p for p in sys.path if p.endswith("site-packages"))
    path = [*sources, Path(site_packages)]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(str(p) for p in path))
    command = "from importlinter.cli import lint_imports_command; lint_imports_command()"
    return subprocess.run(
        [sys.executable, "-S", "-c", command, "--no-cache", str(ROOT / ".importlinter")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_tree_keeps_every_contract() -> None:
    result = lint_imports(SOURCES)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "broken" in result.stdout  # the summary line: "N kept, 0 broken"
    assert ", 0 broken" in result.stdout


BREAKS = {
    "layers (core imports a component)": (
        "packages/acme-core/src/acme/core/errors.py",
        "import acme.items",
        "Arrows point inward",
    ),
    "layers (a component imports another)": (
        "packages/acme-items/src/acme/items/__init__.py",
        "import acme.accounts",
        "Arrows point inward",
    ),
    "layers (a component imports the API)": (
        "packages/acme-accounts/src/acme/accounts/__init__.py",
        "import acme_api",
        "Arrows point inward",
    ),
    "core imports a web framework": (
        "packages/acme-core/src/acme/core/errors.py",
        "import fastapi",
        "acme.core imports no web framework",
    ),
    "a component imports a web framework": (
        "packages/acme-items/src/acme/items/__init__.py",
        "import starlette",
        "Components import no web framework",
    ),
    "a component imports the OpenID client adapter": (
        "packages/acme-accounts/src/acme/accounts/interface.py",
        "import acme.core.security.oidc.client",
        "Only the API's bootstrap imports concrete adapters",
    ),
    "a models module imports sqlalchemy": (
        "packages/acme-accounts/src/acme/accounts/models.py",
        "import sqlalchemy",
        "Component models import only the standard library",
    ),
    "a models module imports pydantic": (
        "packages/acme-accounts/src/acme/accounts/models.py",
        "import pydantic",
        "Component models import only the standard library",
    ),
    "a tables module imports pydantic": (
        "packages/acme-accounts/src/acme/accounts/tables.py",
        "import pydantic",
        "Pydantic stays out of component tables",
    ),
    "a route imports the RabbitMQ adapter": (
        "services/api/src/acme_api/routes/health.py",
        "import acme.core.messaging.rabbitmq",
        "Only the API's bootstrap imports concrete adapters",
    ),
    "aio-pika outside its adapter": (
        "packages/acme-core/src/acme/core/messaging/relay.py",
        "import aio_pika",
        "aio-pika is imported only by the RabbitMQ adapter",
    ),
    "items models import sqlalchemy": (
        "packages/acme-items/src/acme/items/models.py",
        "import sqlalchemy",
        "Component models import only the standard library",
    ),
    "items models import pydantic": (
        "packages/acme-items/src/acme/items/models.py",
        "import pydantic",
        "Component models import only the standard library",
    ),
    "items serializers import the table": (
        "packages/acme-items/src/acme/items/serializers.py",
        "import acme.items.tables",
        "Items serializers and events know no SQL",
    ),
    "a component imports the in-process bus": (
        "packages/acme-items/src/acme/items/interface.py",
        "import acme.core.messaging.memory",
        "Only the API's bootstrap imports concrete adapters",
    ),
    "the API imports a component's repository": (
        "services/api/src/acme_api/routes/items.py",
        "import acme.items.repository",
        "The API uses only the components' public modules",
    ),
    "a route imports a concrete adapter": (
        "services/api/src/acme_api/routes/health.py",
        "import acme.core.persistence.database",
        "Only the API's bootstrap imports concrete adapters",
    ),
}


def test_each_contract_fails_when_broken(tmp_path: Path) -> None:
    # One copy of the trees with every forbidden import of BREAKS added, one
    # run: each contract must be reported BROKEN and each import named in the
    # report (import-linter lists every offending import of a contract).
    copies = []
    for source in SOURCES:
        target = tmp_path / source.relative_to(ROOT)
        shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        copies.append(target)
    for relative, statement, _ in BREAKS.values():
        victim = tmp_path / relative
        victim.write_text(victim.read_text() + f"\n{statement}  # deliberately broken\n")
    result = lint_imports(copies)
    assert result.returncode != 0, result.stdout
    # The summary: "<contract name> KEPT|BROKEN [(N ignored imports)]", long
    # names wrapped over lines, then "Contracts: N kept, M broken."
    summary = " ".join(result.stdout.split("Contracts:")[0].split())
    statuses = re.findall(r" ?(.+?) (KEPT|BROKEN)(?: \(\d+ ignored imports?\))?", summary)
    broken = [name for name, status in statuses if status == "BROKEN"]
    for case, (relative, statement, contract) in BREAKS.items():
        assert any(contract in name for name in broken), f"{case}: {contract} not broken"
        # Each violation is reported as its own "importer -> imported" line.
        line = f"{_module_of(relative)} -> {statement.split()[-1]} "
        assert line in result.stdout, f"{case}: the report has no line {line!r}"


def _module_of(relative: str) -> str:
    path = Path(relative)
    parts = path.with_suffix("").parts[path.parts.index("src") + 1 :]
    return ".".join(p for p in parts if p != "__init__")
