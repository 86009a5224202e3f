"""The runner's options: what ``--help`` and the README say are the defaults that run."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from acme_bench.cli import build_parser, main, parse_duration

README = Path(__file__).resolve().parents[1] / "README.md"

# The README's columns are the hatch scripts; `bench:saturate` runs the `wrk` command.
COMMANDS = {
    "report": "report",
    "compare": "compare",
    "sweep": "sweep",
    "saturate": "wrk",
    "profile": "profile",
}


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def _options(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {s: a for a in parser._actions for s in a.option_strings if s.startswith("--")}


def _matches(default: object, text: str) -> bool:
    """Whether ``text``, as written in help or the README, states ``default``."""
    if isinstance(default, float):
        return parse_duration(text) == default
    if isinstance(default, list):
        return ",".join(str(value) for value in default) == text
    return str(default) == text


def _readme_table() -> dict[str, dict[str, str]]:
    """The defaults table of the README: option -> README column -> cell."""
    lines = README.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| option | `report` |"))
    header = [cell.strip(" `") for cell in lines[start].strip("|").split("|")]
    table = {}
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        cells = [cell.strip(" `") for cell in line.strip("|").split("|")]
        table[cells[0]] = dict(zip(header[1:], cells[1:], strict=True))
    return table


@pytest.mark.parametrize("command", sorted(COMMANDS.values()))
def test_help_states_each_default_the_parser_uses(command: str) -> None:
    checked = 0
    for option, action in _options(_subparsers()[command]).items():
        stated = re.search(r"[(;] ?default: ([^;)]+)", action.help or "")
        if action.default in (None, False) or action.default is argparse.SUPPRESS:
            continue
        assert stated, f"{command} {option}: its help does not state its default"
        assert _matches(action.default, stated.group(1)), (
            f"{command} {option}: help says {stated.group(1)!r}, the default is {action.default!r}"
        )
        checked += 1
    assert checked >= 7


def test_readme_table_states_the_parser_defaults() -> None:
    table = _readme_table()
    parsers = _subparsers()
    assert set(next(iter(table.values()))) == set(COMMANDS)
    for option, row in table.items():
        for column, cell in row.items():
            action = _options(parsers[COMMANDS[column]]).get(option)
            if cell == "-":
                assert action is None, f"README: {column} has no {option}, but it does"
                continue
            assert action is not None, f"README: {column} {option} does not exist"
            assert _matches(action.default, cell), (
                f"README: {column} {option} is {cell!r}, the default is {action.default!r}"
            )


def test_readme_table_covers_every_option_with_a_value_default() -> None:
    table = _readme_table()
    for column, command in COMMANDS.items():
        for option, action in _options(_subparsers()[command]).items():
            if action.default not in (None, False) and option != "--help":
                assert option in table, f"README's defaults table lacks {option} ({column})"


def test_compare_passes_variables_to_b_only_as_name_value_pairs(
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = build_parser().parse_args(
        ["compare", "tree", "tree", "--env-b", "OTEL_TRACES_EXPORTER=otlp", "--env-b", "X=a=b"]
    )
    assert args.env_b == [("OTEL_TRACES_EXPORTER", "otlp"), ("X", "a=b")]
    with pytest.raises(SystemExit):
        build_parser().parse_args(["compare", "tree", "tree", "--env-b", "no-value"])
    assert "not NAME=VALUE" in capsys.readouterr().err


@pytest.mark.parametrize(("given", "fraction"), [("5%", 0.05), ("5", 0.05), ("12.5 %", 0.125)])
def test_fail_above_takes_a_percentage(given: str, fraction: float) -> None:
    args = build_parser().parse_args(["compare", "tree", "tree", "--fail-above", given])
    assert args.fail_above == pytest.approx(fraction)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--fail-above", "five"], "not a percentage"),
        (["--fail-above", "0%"], "between 0 and 100"),
        (["--fail-above", "150%"], "between 0 and 100"),
        (["--fail-above", "5%", "--rounds", "5"], "needs --rounds 6 or more"),
    ],
)
def test_bad_thresholds_exit_2_before_anything_runs(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["compare", "tree", "tree", *argv])
    assert exited.value.code == 2
    assert message in capsys.readouterr().err


def test_compare_help_says_which_direction_is_a_regression() -> None:
    text = " ".join(_subparsers()["compare"].format_help().split())
    assert "requests/s (B/A lower is worse" in text
    assert "server CPU per request (higher is worse" in text
    assert "exit 0 otherwise, 2 on bad arguments" in text


def test_fail_above_runs_many_short_rounds_unless_told_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[argparse.Namespace] = []

    def compare(args: argparse.Namespace, argv: object) -> int:
        seen.append(args)
        return 0

    monkeypatch.setattr("acme_bench.commands.cmd_compare", compare)
    assert main(["compare", "tree", "tree", "--fail-above", "5%"]) == 0
    assert (seen[0].rounds, seen[0].duration, seen[0].warmup) == (12, 3.0, 2.0)
    assert (
        main(["compare", "tree", "tree", "--fail-above", "5%", "--rounds=9", "--duration", "5s"])
        == 0
    )
    assert (seen[1].rounds, seen[1].duration, seen[1].warmup) == (9, 5.0, 2.0)
    assert main(["compare", "tree", "tree"]) == 0  # no verdict asked: the ordinary defaults
    assert (seen[2].rounds, seen[2].duration, seen[2].warmup) == (3, 20.0, 5.0)
