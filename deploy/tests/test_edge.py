"""Requests through the real nginx reach gunicorn, with one request id end to end."""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from stackkit import ApiUnderSupervisor, Nginx, running

from acme.core.testing import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.system]


def access_log_entries(proxy: Nginx) -> list[dict[str, object]]:
    return [json.loads(line) for line in proxy.access_log.read_text().splitlines() if line]


def test_the_callers_request_id_goes_through_and_back(
    edge: Nginx, ready_api: ApiUnderSupervisor
) -> None:
    response = httpx.get(
        f"{edge.url}/health/ready", headers={"X-Request-ID": "edge-test-42"}, timeout=10
    )

    assert response.status_code == 200
    assert response.json()["checks"]["database"] == "ok"
    assert response.headers.get_list("x-request-id") == ["edge-test-42"]
    wait_until(lambda: "edge-test-42" in ready_api.log(), timeout=5, what="the API's log line")
    api_line = next(
        json.loads(line) for line in ready_api.log().splitlines() if "edge-test-42" in line
    )
    assert api_line["request_id"] == "edge-test-42"
    wait_until(
        lambda: any(e["request_id"] == "edge-test-42" for e in access_log_entries(edge)),
        timeout=5,
        what="nginx's access log line",
    )


def test_nginx_makes_an_id_when_there_is_none_or_it_is_not_sane(
    edge: Nginx, ready_api: ApiUnderSupervisor
) -> None:
    plain = httpx.get(f"{edge.url}/health/live", timeout=10)
    hostile = httpx.get(
        f"{edge.url}/health/live", headers={"X-Request-ID": 'a b"c<script>'}, timeout=10
    )

    for response in (plain, hostile):
        assert response.status_code == 200
        request_id = response.headers["x-request-id"]
        assert re.fullmatch(r"[0-9a-f]{32}", request_id), request_id
        # The API logged the id nginx generated: the same one the client got back.
        wait_until(lambda rid=request_id: rid in ready_api.log(), timeout=5, what=request_id)
    assert plain.headers["x-request-id"] != hostile.headers["x-request-id"]


def test_metrics_are_not_served_at_the_edge(edge: Nginx, ready_api: ApiUnderSupervisor) -> None:
    assert httpx.get(f"{edge.url}/metrics", timeout=10).status_code == 404
    assert httpx.get(f"{ready_api.url}/metrics", timeout=10).status_code == 200


def test_a_body_above_the_limit_is_refused_at_the_edge(edge: Nginx) -> None:
    response = httpx.post(
        f"{edge.url}/health/live",
        content=b"x" * (1024 * 1024 + 1),
        headers={"Content-Type": "application/octet-stream"},
        timeout=10,
    )

    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == "payload_too_large"
    assert body["request_id"] == response.headers["x-request-id"]


def test_gzip_for_clients_that_accept_it(edge: Nginx, ready_api: ApiUnderSupervisor) -> None:
    response = httpx.get(
        f"{edge.url}/openapi.json", headers={"Accept-Encoding": "gzip"}, timeout=10
    )

    assert response.status_code == 200
    assert response.headers["content-encoding"] == "gzip"
    assert response.json()["info"]["title"] == "acme API"


@pytest.fixture
def strict_edge(ready_api: ApiUnderSupervisor, nginx_binary: str) -> Iterator[Nginx]:
    """A second nginx with a tight per-client limit: 2 requests a second, a burst of 3."""
    root = Path(tempfile.mkdtemp(prefix="acme-nginx-strict-"))
    strict = Nginx(
        root, upstream=ready_api.address, rate_limit="2r/s", rate_burst=3, binary=nginx_binary
    )
    with running(strict) as proxy:
        yield proxy


def test_each_client_is_rate_limited_with_a_problem_document(strict_edge: Nginx) -> None:
    with httpx.Client(base_url=strict_edge.url, timeout=10) as client:
        responses = [client.get("/health/live") for _ in range(12)]

    statuses = [r.status_code for r in responses]
    # The burst passes, then the client is held to the rate.
    assert statuses[:4] == [200, 200, 200, 200]
    limited = [r for r in responses if r.status_code == 429]
    assert len(limited) >= 6, statuses
    problem = limited[0]
    assert problem.headers["content-type"] == "application/problem+json"
    assert problem.headers["retry-after"] == "1"
    assert problem.json()["code"] == "rate_limited"
    assert problem.json()["request_id"] == problem.headers["x-request-id"]
    # The limit is per client: another address is still served.
    other = httpx.HTTPTransport(local_address="127.0.0.2")
    with httpx.Client(base_url=strict_edge.url, transport=other, timeout=10) as client:
        assert client.get("/health/live").status_code == 200
