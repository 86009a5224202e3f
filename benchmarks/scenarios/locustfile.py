"""The benchmark scenarios, in locust's language (run them with ``python -m acme_bench``).

Every user is a ``FastHttpUser`` with no wait time: a fixed number of users
each keep one request in flight, so throughput is what the server sustains
at that concurrency. In ``on_start`` each user takes a real access token
from the token file the runner made with ``acme-api token issue`` before the
run, and the description of the seeded data, so it asks for rows that exist.

- :class:`SeedWorkload`: filter by ``order`` and create, 50/50 (the seed's benchmark).
- :class:`RealisticMix`: list and follow the cursor, get, create, update, delete.
- :class:`ReadHeavy`: get by id, where verifying the token is most of the work.
- :class:`Health`: liveness only, the stack's fixed cost.

To add a scenario, subclass :class:`BenchUser` and give it tasks; run it with
``hatch run bench:compare A B --scenario YourClass``.
"""

from __future__ import annotations

import random
from typing import Any
from urllib.parse import urlsplit

from locust import constant, events, task
from locust.contrib.fasthttp import FastHttpUser

from acme_bench.scenario_support import dataset, install_hooks, next_account, tokens

install_hooks(events)

PAGE = 100


class BenchUser(FastHttpUser):
    """A user signed in as one of the benchmark accounts (round robin over them)."""

    abstract = True
    wait_time = constant(0)

    def on_start(self) -> None:
        available = tokens()
        if not available:
            raise RuntimeError("no tokens: run scenarios through python -m acme_bench")
        self.index = next_account()
        self.account: dict[str, Any] = dataset().get("accounts", [{}])[self.index]
        self.auth = {"Authorization": f"Bearer {available[self.index]}"}
        self.rng = random.Random()
        self.orders = max(1, int(self.account.get("orders", 1)))
        self.sample_ids: list[str] = list(self.account.get("sample_ids", ()))

    def random_order(self) -> int:
        return self.rng.randrange(self.orders)


class SeedWorkload(BenchUser):
    """The seed's benchmark: a page of the items with one ``order``, and a create, 50/50."""

    @task
    def filter_by_order(self) -> None:
        self.client.get(
            f"/items?order={self.random_order()}&limit={PAGE}",
            headers=self.auth,
            name="GET /items?order=K",
        )

    @task
    def create(self) -> None:
        order = self.random_order()
        self.client.post(
            "/items",
            json={"title": f"bench {self.index}-{order}", "order": order},
            headers=self.auth,
            name="POST /items",
        )


class RealisticMix(BenchUser):
    """What a client does all day: browse with the cursor, read, create, edit, delete.

    Each user edits and deletes only items it created itself, so users of
    one account never race for the same version.
    """

    def on_start(self) -> None:
        super().on_start()
        self.next_url: str | None = None
        self.pages = 0
        self.mine: list[tuple[str, str]] = []  # (id, etag) of items this user created

    @task(4)
    def browse(self) -> None:
        """The first page, then up to two more by following ``next``."""
        url = self.next_url or "/items?limit=20"
        name = "GET /items?cursor" if self.next_url else "GET /items"
        with self.client.get(url, headers=self.auth, name=name, catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"status {response.status_code}")
                self.next_url = None
                return
            self.pages += 1
            following = response.json().get("next") if self.pages < 3 else None
            self.next_url = (
                urlsplit(following)._replace(scheme="", netloc="").geturl() if (following) else None
            )
            if self.next_url is None:
                self.pages = 0

    @task(4)
    def get(self) -> None:
        pool = self.sample_ids or [item_id for item_id, _ in self.mine]
        if pool:
            self.client.get(
                f"/items/{self.rng.choice(pool)}", headers=self.auth, name="GET /items/{id}"
            )

    @task(2)
    def create(self) -> None:
        body = {"title": f"mix {self.index}", "order": self.random_order(), "tags": ["mix"]}
        with self.client.post(
            "/items", json=body, headers=self.auth, name="POST /items", catch_response=True
        ) as response:
            if response.status_code != 201:
                response.failure(f"status {response.status_code}")
                return
            self.mine.append((response.json()["id"], response.headers.get("ETag", "")))
            del self.mine[:-50]

    @task(2)
    def update(self) -> None:
        if not self.mine:
            return self.create()
        position = self.rng.randrange(len(self.mine))
        item_id, etag = self.mine[position]
        with self.client.patch(
            f"/items/{item_id}",
            json={"title": f"edited {self.rng.random():.6f}"},
            headers={**self.auth, "If-Match": etag},
            name="PATCH /items/{id}",
            catch_response=True,
        ) as response:
            if response.status_code != 200:
                response.failure(f"status {response.status_code}")
                return None
            self.mine[position] = (item_id, response.headers.get("ETag", ""))
        return None

    @task(1)
    def delete(self) -> None:
        if not self.mine:
            return self.create()
        item_id, etag = self.mine.pop(self.rng.randrange(len(self.mine)))
        self.client.delete(
            f"/items/{item_id}", headers={**self.auth, "If-Match": etag}, name="DELETE /items/{id}"
        )
        return None


class ReadHeavy(BenchUser):
    """Get one item by id: the cheapest authenticated request, so auth weighs most."""

    @task
    def get(self) -> None:
        self.client.get(
            f"/items/{self.rng.choice(self.sample_ids)}", headers=self.auth, name="GET /items/{id}"
        )


class Health(FastHttpUser):
    """Liveness only: the stack's bare request cost (and a check of the machinery)."""

    wait_time = constant(0)

    @task
    def live(self) -> None:
        self.client.get("/health/live")
