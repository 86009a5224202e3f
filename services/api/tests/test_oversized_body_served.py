"""The real server (``acme-api serve``, uvicorn) answers an oversized body with its 413.

A client that writes its whole request before reading, as Python's urllib
does (and says ``Connection: close``), used to get "connection reset by
peer": the server answered after the first MiB and closed with the rest of
the body unread. Here a raw socket does exactly that, ten times in a row.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from acme.core.testing import free_port

# A server process per xdist worker takes 10-20 s to start on a busy machine.
pytestmark = pytest.mark.system

FIVE_MB = 5 * 1024 * 1024


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    """A development server on SQLite in a fresh directory: (port, working directory)."""
    workdir = tmp_path_factory.mktemp("served")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACME_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "acme_api", "serve", "--port", str(port)],
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health/live", timeout=2).is_success:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            pytest.fail("the server never answered")
        yield port, workdir
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
    assert "Traceback" not in output, output


def exchange(port: int, head: bytes, body: bytes) -> bytes:
    """Send the whole request first, then read the answer until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=15) as sock:
        sock.sendall(head + body)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def post_items(port: int, body: bytes, *, token: str | None = None) -> bytes:
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    head = (
        f"POST /items HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n{auth}"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    return exchange(port, head, body)


def parse(answer: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines)
    return int(status_line.split()[1]), {k.lower(): v for k, v in headers.items()}, body


def test_a_5_mb_body_written_before_reading_gets_its_413_ten_times_of_ten(
    served: tuple[int, Path],
) -> None:
    port, _ = served
    body = json.dumps({"title": "x" * FIVE_MB}).encode()
    for attempt in range(10):
        status, headers, problem = parse(post_items(port, body))
        assert status == 413, attempt
        assert headers["content-type"] == "application/problem+json"
        assert headers["connection"] == "close"
        assert json.loads(problem)["code"] == "payload_too_large"


def test_a_chunked_5_mb_body_gets_its_413_too(served: tuple[int, Path]) -> None:
    port, _ = served
    step = 64 * 1024
    data = b"x" * FIVE_MB
    chunks = b"".join(
        b"%x\r\n%s\r\n" % (len(data[i : i + step]), data[i : i + step])
        for i in range(0, len(data), step)
    )
    head = (
        f"POST /items HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n"
        "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    ).encode()
    for attempt in range(3):
        status, _, problem = parse(exchange(port, head, chunks + b"0\r\n\r\n"))
        assert status == 413, attempt
        assert json.loads(problem)["code"] == "payload_too_large"


def test_an_honest_small_request_on_the_same_server_still_works(
    served: tuple[int, Path],
) -> None:
    port, workdir = served
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACME_")}
    issued = subprocess.run(
        [sys.executable, "-m", "acme_api", "token", "issue", "--account", "honest"],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    token = issued.stdout.strip().splitlines()[-1]
    status, _, created = parse(post_items(port, b'{"title": "small"}', token=token))
    assert status == 201, created
    assert json.loads(created)["title"] == "small"
