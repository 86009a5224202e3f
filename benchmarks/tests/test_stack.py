"""Rendering the production nginx template with the values the runner's stacks use."""

from __future__ import annotations

import re

import pytest
from stackkit import EDGE_TEMPLATE, StackError, render_edge

VALUES = {
    "ACME_NGINX_LISTEN": "127.0.0.1:9001",
    "ACME_NGINX_UPSTREAM": "127.0.0.1:9002",
    "ACME_NGINX_LOG_DIR": "/tmp/run/nginx",
    "ACME_NGINX_RATE_LIMIT": "1000000r/s",
    "ACME_NGINX_RATE_BURST": "1000000",
}


def test_only_the_acme_names_are_filled() -> None:
    text = render_edge(
        "listen ${ACME_NGINX_LISTEN}; set $x $host; log ${ACME_NGINX_LOG_DIR}/a;", VALUES
    )
    assert text == "listen 127.0.0.1:9001; set $x $host; log /tmp/run/nginx/a;"


def test_the_production_template_renders_with_the_runner_values() -> None:
    text = render_edge(EDGE_TEMPLATE.read_text(), VALUES)
    assert re.search(r"\$\{ACME_NGINX_[A-Z_]+\}", text) is None
    assert "server 127.0.0.1:9002" in text


def test_a_name_the_runner_does_not_set_is_an_error() -> None:
    with pytest.raises(StackError, match="ACME_NGINX_NEW"):
        render_edge("x ${ACME_NGINX_NEW};", VALUES)
