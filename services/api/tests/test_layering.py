"""The import-linter contracts hold, and each one fails when the rule it states is broken.

Each case copies the source trees, adds one forbidden import to the copy and
runs lint-imports against it; the copies shadow the installed packages.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
SOURCES = [
    ROOT / "packages" / "acme-core" / "src",
    ROOT / "packages" / "acme-accounts" / "src",
    ROOT / "packages" / "acme-items" / "src",
    ROOT / "services" / "api" / "src",
]


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
    "a route imports a concrete adapter": (
        "services/api/src/acme_api/routes/health.py",
        "import acme.core.persistence.database",
        "Only the API's bootstrap imports concrete adapters",
    ),
}


@pytest.mark.parametrize("case", sorted(BREAKS))
def test_each_contract_fails_when_broken(case: str, tmp_path: Path) -> None:
    relative, statement, contract = BREAKS[case]
    copies = []
    for source in SOURCES:
        target = tmp_path / source.relative_to(ROOT)
        shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        copies.append(target)
    victim = tmp_path / relative
    victim.write_text(victim.read_text() + f"\n{statement}  # deliberately broken\n")
    result = lint_imports(copies)
    assert result.returncode != 0, result.stdout
    # "... BROKEN", or "... BROKEN (1 ignored import)" for a contract with exceptions.
    broken = [line for line in result.stdout.splitlines() if " BROKEN" in line]
    assert len(broken) >= 1
    assert any(
        contract in line
        for line in result.stdout.splitlines()
        if "BROKEN" in line or contract in line
    )
    assert statement.split()[-1] in result.stdout  # the report names the offending import
