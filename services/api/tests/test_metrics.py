"""GET /metrics in one process: request counts and latency histograms per route template."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from acme_api.main import create_app

from .conftest import make_settings


def scrape(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_requests_are_counted_and_timed_per_route(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    for _ in range(3):
        assert (await client.get("/health/live")).status_code == 200
    assert (await client.get("/items-that-do-not-exist/42")).status_code == 404

    response = await client.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    values = scrape(response.text)
    live = frozenset({("method", "GET"), ("route", "/health/live")})
    assert values[("acme_http_requests_total", live | {("status", "200")})] == 3
    assert values[("acme_http_request_duration_seconds_count", live)] == 3
    assert values[("acme_http_request_duration_seconds_bucket", live | {("le", "+Inf")})] == 3
    assert values[("acme_http_request_duration_seconds_sum", live)] > 0
    # An unknown path is one series, whatever the path: no unbounded label values.
    unmatched = frozenset({("method", "GET"), ("route", "<unmatched>"), ("status", "404")})
    assert values[("acme_http_requests_total", unmatched)] == 1
    assert not any("items-that-do-not-exist" in str(key) for key in values)


async def test_a_route_with_parameters_is_labelled_by_its_template(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    @app.get("/probe/{thing_id}")
    async def probe(thing_id: int) -> dict[str, int]:
        return {"thing_id": thing_id}

    for thing in (1, 2, 3):
        assert (await client.get(f"/probe/{thing}")).status_code == 200

    values = scrape((await client.get("/metrics")).text)
    series = frozenset({("method", "GET"), ("route", "/probe/{thing_id}"), ("status", "200")})
    assert values[("acme_http_requests_total", series)] == 3


async def test_an_unhandled_error_counts_as_a_500(client: httpx.AsyncClient, app: FastAPI) -> None:
    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("kaboom")

    assert (await client.get("/boom")).status_code == 500

    values = scrape((await client.get("/metrics")).text)
    series = frozenset({("method", "GET"), ("route", "/boom"), ("status", "500")})
    assert values[("acme_http_requests_total", series)] == 1


def test_metrics_can_be_turned_off() -> None:
    settings = make_settings(database_url="sqlite+aiosqlite:///:memory:", metrics_enabled="false")
    app = create_app(settings, configure_logs=False)

    assert not any(getattr(route, "path", None) == "/metrics" for route in app.routes)


async def test_a_made_up_method_is_one_series_whatever_its_name(client: httpx.AsyncClient) -> None:
    for method in ("FROB", "XYZZY", "GET"):
        await client.request(method, "/health/live")
    values = scrape((await client.get("/metrics")).text)
    methods = {
        dict(labels)["method"] for name, labels in values if name == "acme_http_requests_total"
    }
    assert methods == {"GET", "OTHER"}
