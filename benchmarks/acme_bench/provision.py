"""Getting a migrated database ready for scenarios: accounts, tokens, items, request lists."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .database import BenchDatabase
from .dataset import DataFiles, Request, write_request_list
from .seeding import AccountData, SeedResult, seed_items
from .tokens import generate_keys, issue_tokens, token_subject

__all__ = ["PAGE_SIZE", "deep_cursor", "issue_accounts", "seed_database", "server_env"]

PAGE_SIZE = 100  # the API's largest page: the seed's filter returns about 100 rows
DEFAULT_ACCOUNTS = 4


def server_env(database: BenchDatabase, *, keys: str) -> dict[str, str]:
    """The API's environment: production settings, real keys, the benchmark database.

    Sign-in is configured with a throwaway client registration, since
    production refuses to start without one; no benchmark signs in through it.
    """
    return {
        "ACME_ENV": "production",
        "ACME_SECRETS": "env",
        "ACME_DATABASE_URL": database.sqlalchemy_url,
        "ACME_JWT_KEYS": keys,
        "ACME_OIDC_CLIENT_ID": "acme-bench",
        "ACME_OIDC_CLIENT_SECRET": secrets.token_urlsafe(24),
        "ACME_LOG_LEVEL": "INFO",
    }


def new_keys(bin_dir: Path) -> str:
    """Signing keys for one benchmark run (the working tree's ``acme-api keys generate``)."""
    return generate_keys(bin_dir)


def deep_cursor(account: AccountData) -> str | None:
    """The cursor after the row 99 % deep in the account's newest-first listing.

    Built with acme-core's own cursor encoding for the listing's keyset
    (``-created_at`` then ``-id``); the runner checks it over HTTP before use.
    """
    if account.deep_row is None:
        return None
    from acme.core.persistence.pagination import encode_cursor, parse_order

    created_at, item_id = account.deep_row
    return encode_cursor(parse_order("-created_at,-id"), [created_at, item_id])


def _request_lists(directory: Path, seeded: SeedResult | None) -> dict[str, Path]:
    lists: dict[str, list[Request]] = {"health": [(None, "GET", "/health/live", "")]}
    if seeded is not None:
        seed: list[Request] = []
        get: list[Request] = []
        first: list[Request] = []
        deep: list[Request] = []
        for account in seeded.accounts:
            i = account.index
            for order in range(min(account.orders, 64)):
                seed.append((i, "GET", f"/items?order={order}&limit={PAGE_SIZE}", ""))
                body = json.dumps({"title": f"wrk {i}-{order}", "order": order})
                seed.append((i, "POST", "/items", body))
            get += [(i, "GET", f"/items/{item_id}", "") for item_id in account.sample_ids]
            first.append((i, "GET", f"/items?limit={PAGE_SIZE}", ""))
            cursor = deep_cursor(account)
            if cursor:
                deep.append((i, "GET", f"/items?limit={PAGE_SIZE}&cursor={cursor}", ""))
        lists.update({"seed": seed, "get": get, "first-page": first, "deep-page": deep})
    return {
        name: write_request_list(directory / f"wrk-{name}.txt", requests)
        for name, requests in lists.items()
        if requests
    }


def _describe(seeded: SeedResult | None, tokens: int) -> dict[str, Any]:
    if seeded is None:
        return {
            "size": 0,
            "page_size": PAGE_SIZE,
            "accounts": [{"index": i} for i in range(tokens)],
        }
    return {
        "size": seeded.size,
        "page_size": PAGE_SIZE,
        "seed_seconds": round(seeded.seconds, 1),
        "accounts": [
            {
                "index": a.index,
                "id": str(a.id),
                "items": a.items,
                "orders": a.orders,
                "sample_ids": a.sample_ids,
                "deep_cursor": deep_cursor(a),
            }
            for a in seeded.accounts
        ],
    }


def issue_accounts(
    bin_dir: Path, env: Mapping[str, str], *, directory: Path, accounts: int = DEFAULT_ACCOUNTS
) -> Path:
    """Create the benchmark accounts and issue their tokens; return the token file."""
    started = time.monotonic()
    directory.mkdir(parents=True, exist_ok=True)
    tokens_file = directory / "tokens.txt"
    issue_tokens(bin_dir, env, accounts=accounts, out=tokens_file)
    print(f"  {accounts} accounts, tokens issued ({time.monotonic() - started:.0f}s)")
    return tokens_file


def seed_database(
    database: BenchDatabase, *, tokens_file: Path, size: int, directory: Path
) -> DataFiles:
    """Seed ``size`` items over the token file's accounts; write the dataset and request lists.

    ``size`` 0 seeds nothing (scenarios that need no items).
    """
    directory.mkdir(parents=True, exist_ok=True)
    tokens = tokens_file.read_text(encoding="ascii").split()
    seeded = None
    if size:
        owners = [token_subject(token) for token in tokens]
        seeded = seed_items(database.dsn, owners, size)
        print(f"  {size} items seeded in {seeded.seconds:.0f}s ({database.name})")
    dataset = directory / "dataset.json"
    dataset.write_text(json.dumps(_describe(seeded, len(tokens)), indent=1) + "\n")
    return DataFiles(
        tokens=tokens_file,
        dataset=dataset,
        requests=_request_lists(directory, seeded),
    )
