"""The connection budget: what the manifests may open at the worst moment, against the limit.

    python deploy/budget.py [--kubectl KUBECTL] [--limits deploy/database.toml] SOURCE...

Each SOURCE is a kustomize directory (built with ``KUBECTL kustomize``) or a
YAML file of manifests. For each, the worst moment is every Deployment at its
HorizontalPodAutoscaler's maximum (else its replicas) plus its rolling
update's surge, with a migration Job running:

- an API pod (image ``.../acme-api`` running gunicorn) opens up to
  ``ACME_GUNICORN_WORKERS`` x (``ACME_DB_POOL_SIZE`` + ``ACME_DB_MAX_OVERFLOW``);
- a relay pod (``acme-api relay``) one pool;
- every process running the outbox relay (each API worker unless
  ``ACME_RELAY_IN_API=false``, each relay pod) one more for its ``LISTEN``
  when it connects to PostgreSQL directly;
- a migration Job one connection (acme-core migrates on one, NullPool);
- with ``ACME_DB_PGBOUNCER=true`` those pools are PgBouncer's clients
  (checked against its ``max_client_conn``) and PostgreSQL sees PgBouncer's
  server pool instead: ``default_pool_size + reserve_pool_size``, capped by
  ``max_db_connections``, per PgBouncer pod. The migration Job connects
  directly.

The settings come from the containers' ConfigMaps and env (unset pool values
take acme-core's defaults), PgBouncer's from the generated ConfigMap holding
``pgbouncer.ini``. The sum must stay within deploy/database.toml's
``max_connections`` less the superuser and operators' reserves. Exit status 1
when a source breaks the budget, 2 when it cannot be read.
"""

from __future__ import annotations

import argparse
import configparser
import math
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

DEPLOY = Path(__file__).resolve().parent
LIMITS = DEPLOY / "database.toml"
# acme-core's defaults (AcmeSettings.db_pool_size, db_max_overflow), used when a
# manifest leaves them unset; tests/test_budget.py checks they still agree.
DEFAULT_POOL_SIZE = 20
DEFAULT_MAX_OVERFLOW = 0

Manifest = dict[str, Any]


class BudgetError(Exception):
    """The manifests cannot be costed (a setting is missing or malformed)."""


@dataclass
class Budget:
    """Connections at the worst moment, by where they come from."""

    source: str
    available: int
    lines: list[str] = field(default_factory=list)
    direct: int = 0
    pgbouncer_clients: int = 0
    pgbouncer_client_limit: int = 0

    def add(self, what: str, connections: int, *, through_pgbouncer: bool = False) -> None:
        where = "PgBouncer clients" if through_pgbouncer else "PostgreSQL"
        self.lines.append(f"  {connections:5d}  {what} ({where})")
        if through_pgbouncer:
            self.pgbouncer_clients += connections
        else:
            self.direct += connections

    def problems(self) -> list[str]:
        found = []
        if self.direct > self.available:
            found.append(
                f"{self.direct} PostgreSQL connections exceed the {self.available} available"
            )
        if self.pgbouncer_clients > self.pgbouncer_client_limit:
            found.append(
                f"{self.pgbouncer_clients} PgBouncer clients exceed its max_client_conn "
                f"({self.pgbouncer_client_limit} over every PgBouncer pod)"
            )
        return found

    def report(self) -> str:
        status = "; ".join(self.problems()) or "within budget"
        head = f"{self.source}: {self.direct} of {self.available} PostgreSQL connections"
        if self.pgbouncer_client_limit:
            head += f", {self.pgbouncer_clients} of {self.pgbouncer_client_limit} PgBouncer clients"
        return "\n".join([f"{head}: {status}", *self.lines])


def available_connections(limits: Path = LIMITS) -> int:
    """What the API may use of the server: max_connections less the reserves."""
    server = tomllib.loads(limits.read_text())["postgresql"]
    return int(
        server["max_connections"]
        - server["superuser_reserved_connections"]
        - server["reserved_for_operators"]
    )


def load_manifests(source: Path, kubectl: str) -> list[Manifest]:
    """The manifests of a kustomize directory (built) or a YAML file."""
    if source.is_dir():
        built = subprocess.run(  # noqa: S603 - the kubectl we were given
            [kubectl, "kustomize", str(source)], capture_output=True, text=True, check=False
        )
        if built.returncode != 0:
            raise BudgetError(f"kubectl kustomize {source} failed:\n{built.stderr}")
        text = built.stdout
    else:
        text = source.read_text()
    return [doc for doc in yaml.safe_load_all(text) if isinstance(doc, dict)]


def _integer(value: object, what: str) -> int:
    try:
        return int(str(value))
    except ValueError:
        raise BudgetError(f"{what} is not a whole number: {value!r}") from None


def _settings(container: Manifest, config_maps: dict[str, dict[str, str]]) -> dict[str, str]:
    values: dict[str, str] = {}
    for source in container.get("envFrom", []):
        reference = source.get("configMapRef")
        if reference:
            values |= config_maps.get(reference["name"], {})
    for variable in container.get("env", []):
        if "value" in variable:
            values[variable["name"]] = str(variable["value"])
        else:
            values.pop(variable["name"], None)  # from a Secret: not a setting we cost
    return values


def _pods(deployment: Manifest, hpa_max: dict[str, int]) -> int:
    """Pods at the HPA's maximum (else the replicas), before any surge."""
    return int(hpa_max.get(deployment["metadata"]["name"], deployment["spec"].get("replicas", 1)))


def _pods_at_worst(deployment: Manifest, hpa_max: dict[str, int]) -> int:
    """:func:`_pods` plus a rolling update's surge (old and new pods hold pools at once)."""
    spec = deployment.get("spec", {})
    name = deployment["metadata"]["name"]
    pods = _pods(deployment, hpa_max)
    surge = spec.get("strategy", {}).get("rollingUpdate", {}).get("maxSurge", "25%")
    if spec.get("strategy", {}).get("type") == "Recreate":
        surge = 0
    if isinstance(surge, str) and surge.endswith("%"):
        extra = math.ceil(pods * _integer(surge[:-1], f"{name}'s maxSurge") / 100)
    else:
        extra = _integer(surge, f"{name}'s maxSurge")
    return int(pods + extra)


def _pool(settings: dict[str, str], who: str) -> int:
    size = _integer(settings.get("ACME_DB_POOL_SIZE", DEFAULT_POOL_SIZE), f"{who} pool size")
    overflow = settings.get("ACME_DB_MAX_OVERFLOW", DEFAULT_MAX_OVERFLOW)
    return size + _integer(overflow, f"{who} max overflow")


def _bounced(settings: dict[str, str]) -> bool:
    return settings.get("ACME_DB_PGBOUNCER", "false").strip().lower() in ("1", "true", "yes")


def _pgbouncer_ini(config_maps: dict[str, dict[str, str]]) -> configparser.SectionProxy | None:
    for data in config_maps.values():
        if "pgbouncer.ini" in data:
            parser = configparser.ConfigParser(
                inline_comment_prefixes=(";",), comment_prefixes=(";", "#", "%")
            )
            parser.read_string(data["pgbouncer.ini"])
            return parser["pgbouncer"]
    return None


def _cost_api(
    budget: Budget,
    deployment: Manifest,
    command: str,
    settings: dict[str, str],
    hpa_max: dict[str, int],
) -> None:
    """An API (gunicorn) or relay (``acme-api relay``) Deployment's pools and listeners."""
    name = deployment["metadata"]["name"]
    pods = _pods_at_worst(deployment, hpa_max)
    pool = _pool(settings, name)
    bounced = _bounced(settings)
    if "relay" in command:
        what, connections, relays = f"{pods} relay pods x pool {pool}", pods * pool, pods
    else:
        if "ACME_GUNICORN_WORKERS" not in settings:
            raise BudgetError(
                f"{name}: ACME_GUNICORN_WORKERS is unset (one worker per core "
                "of whatever node it lands on): set it to cost the pool"
            )
        workers = _integer(settings["ACME_GUNICORN_WORKERS"], f"{name} workers")
        what = f"{pods} pods x {workers} workers x pool {pool}"
        connections = pods * workers * pool
        in_api = settings.get("ACME_RELAY_IN_API", "true").strip().lower()
        relays = pods * workers if in_api not in ("0", "false", "no") else 0
    budget.add(f"Deployment {name}: {what}", connections, through_pgbouncer=bounced)
    if relays and not bounced:
        # The relay's LISTEN holds a connection of its own beside the pool (it
        # stays off behind PgBouncer, whose transaction mode cannot carry it).
        budget.add(f"Deployment {name}: {relays} relay listeners (LISTEN)", relays)


def cost(manifests: list[Manifest], *, source: str, available: int) -> Budget:
    """The budget of one set of manifests.

    Raises:
        BudgetError: a setting the count needs is missing or malformed.
    """
    budget = Budget(source, available)
    config_maps = {
        m["metadata"]["name"]: {k: str(v) for k, v in (m.get("data") or {}).items()}
        for m in manifests
        if m.get("kind") == "ConfigMap"
    }
    hpa_max = {
        m["spec"]["scaleTargetRef"]["name"]: int(m["spec"]["maxReplicas"])
        for m in manifests
        if m.get("kind") == "HorizontalPodAutoscaler"
    }
    pgbouncer = _pgbouncer_ini(config_maps)
    for manifest in manifests:
        kind, name = manifest.get("kind"), manifest.get("metadata", {}).get("name", "?")
        if kind not in ("Deployment", "Job"):
            continue
        pod = manifest["spec"]["template"]["spec"]
        for container in pod.get("containers", []):
            image = str(container.get("image", "")).split("@")[0].split(":")[0]
            command = " ".join([*container.get("command", []), *container.get("args", [])])
            settings = _settings(container, config_maps)
            if kind == "Job" and image.endswith("/acme-api"):
                budget.add(f"Job {name}: one migration connection", 1)
            elif kind == "Deployment" and "pgbouncer" in image:
                if pgbouncer is None:
                    raise BudgetError(f"{name} runs PgBouncer but no ConfigMap has pgbouncer.ini")
                pods = _pods_at_worst(manifest, hpa_max)
                pool = _integer(pgbouncer.get("default_pool_size", "20"), "default_pool_size")
                pool += _integer(pgbouncer.get("reserve_pool_size", "0"), "reserve_pool_size")
                cap = _integer(pgbouncer.get("max_db_connections", "0"), "max_db_connections")
                per_pod = min(pool, cap) if cap else pool
                clients = _integer(pgbouncer.get("max_client_conn", "100"), "max_client_conn")
                # Clients can count on the steady pods only, not on a surge's.
                budget.pgbouncer_client_limit += _pods(manifest, hpa_max) * clients
                budget.add(f"Deployment {name}: {pods} pods x {per_pod} server", pods * per_pod)
            elif kind == "Deployment" and image.endswith("/acme-api"):
                _cost_api(budget, manifest, command, settings, hpa_max)
    if budget.pgbouncer_clients and not budget.pgbouncer_client_limit:
        raise BudgetError("ACME_DB_PGBOUNCER is on but no PgBouncer Deployment is in the manifests")
    return budget


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sources", nargs="+", type=Path)
    parser.add_argument("--kubectl", default="kubectl")
    parser.add_argument("--limits", type=Path, default=LIMITS)
    options = parser.parse_args(argv)
    available = available_connections(options.limits)
    broken = False
    for source in options.sources:
        try:
            budget = cost(
                load_manifests(source, options.kubectl), source=str(source), available=available
            )
        except BudgetError as exc:
            print(f"{source}: {exc}", file=sys.stderr)
            return 2
        print(budget.report())
        broken |= bool(budget.problems())
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
