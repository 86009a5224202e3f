"""Reading locust's CSV files and the wrk script's summary line."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from acme_bench.parsing import (
    ParseError,
    parse_duration,
    parse_wrk_summary,
    read_locust_history,
    read_locust_stats,
)

STATS_HEADER = (
    "Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,"
    "Min Response Time,Max Response Time,Average Content Size,Requests/s,Failures/s,"
    "50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%"
)


def write(path: Path, *lines: str) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def test_locust_stats_gives_the_aggregate_and_each_endpoint(tmp_path: Path) -> None:
    path = write(
        tmp_path / "r_stats.csv",
        STATS_HEADER,
        "GET,/items [order],900,3,12,14.5,1.2,80.1,6600,450.5,1.5,12,13,14,15,18,22,30,41,70,80,80",
        "POST,/items,1100,0,9,9.5,1.0,60.0,400.0,550.0,0.0,9,10,10,11,12,15,18,20,50,60,60",
        ",Aggregated,2000,3,10,11.8,1.0,80.1,3300.0,1000.5,1.5,10,11,12,13,15,19,25,33,65,80,80",
    )
    aggregate, endpoints = read_locust_stats(path)
    assert aggregate.requests == 2000
    assert aggregate.failures == 3
    assert aggregate.rps == pytest.approx(1000.5)
    assert (aggregate.p50_ms, aggregate.p95_ms, aggregate.p99_ms) == (10, 19, 33)
    assert aggregate.max_ms == pytest.approx(80.1)
    assert set(endpoints) == {"GET /items [order]", "POST /items"}
    assert endpoints["POST /items"].p99_ms == 20


def test_locust_stats_without_requests_reads_percentiles_as_missing(tmp_path: Path) -> None:
    path = write(
        tmp_path / "r_stats.csv",
        STATS_HEADER,
        ",Aggregated,0,0,0,0,0,0,0,0.0,0.0,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A",
    )
    aggregate, endpoints = read_locust_stats(path)
    assert aggregate.requests == 0
    assert math.isnan(aggregate.p99_ms)
    assert endpoints == {}


def test_locust_stats_missing_file_or_aggregate_is_a_parse_error(tmp_path: Path) -> None:
    with pytest.raises(ParseError, match="no stats file"):
        read_locust_stats(tmp_path / "absent_stats.csv")
    path = write(tmp_path / "r_stats.csv", STATS_HEADER)
    with pytest.raises(ParseError, match="no Aggregated row"):
        read_locust_stats(path)


def test_locust_history_gives_the_latest_aggregate_row(tmp_path: Path) -> None:
    header = (
        "Timestamp,User Count,Type,Name,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,"
        "99.9%,99.99%,100%,Total Request Count,Total Failure Count,Total Median Response Time,"
        "Total Average Response Time,Total Min Response Time,Total Max Response Time,"
        "Total Average Content Size"
    )
    path = write(
        tmp_path / "r_stats_history.csv",
        header,
        "1,0,,Aggregated,0.0,0.0,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,0,0,0,0.0,0,0,0",
        "2,32,,Aggregated,812.5,0.0,30,31,32,33,40,50,60,70,90,95,95,1600,2,30,31.0,1,95,100",
    )
    point = read_locust_history(path)
    assert point is not None
    assert (point.users, point.requests, point.failures) == (32, 1600, 2)
    assert point.rps == pytest.approx(812.5)
    assert point.p99_ms == 70
    assert read_locust_history(tmp_path / "nothing_yet.csv") is None


def test_wrk_summary_line_becomes_latency_in_milliseconds() -> None:
    output = (
        "Running 20s test @ http://127.0.0.1:8000\n"
        "  1 threads and 32 connections\n"
        'ACME_BENCH_WRK {"requests":40000,"errors":2,"non2xx":3,"duration_us":20000000,'
        '"mean_us":1500.5,"max_us":90000,"p50_us":1200,"p95_us":3000,"p99_us":7000}\n'
    )
    latency = parse_wrk_summary(output)
    assert latency.requests == 40000
    assert latency.failures == 5
    assert latency.rps == pytest.approx(2000.0)
    assert (latency.p50_ms, latency.p95_ms, latency.p99_ms) == (1.2, 3.0, 7.0)
    assert latency.max_ms == 90.0


def test_wrk_output_without_the_summary_line_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="no ACME_BENCH_WRK"):
        parse_wrk_summary("Running 20s test\nRequests/sec: 100\n")
    with pytest.raises(ParseError, match="incomplete"):
        parse_wrk_summary('ACME_BENCH_WRK {"requests": 1}\n')


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("20", 20.0), ("20s", 20.0), ("1m", 60.0), ("1m30s", 90.0), ("1h", 3600.0), ("2.5s", 2.5)],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "abc", "0s", "5ms", "-3s"])
def test_bad_durations_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)
