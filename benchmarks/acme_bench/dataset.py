"""The files a run hands its load generators: tokens, the dataset, wrk request lists."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["DataFiles", "write_request_list"]


@dataclass(frozen=True)
class DataFiles:
    """Where one database's tokens, dataset description and request lists are.

    Args:
        tokens: Access tokens, one a line (line *i* is account *i*'s).
        dataset: JSON description of the seeded rows (``None`` without data).
        requests: wrk request lists by scenario name (see ``wrk/replay.lua``).
    """

    tokens: Path
    dataset: Path | None = None
    requests: Mapping[str, Path] = field(default_factory=dict)

    def locust_env(self) -> dict[str, str]:
        """The environment locust's scenarios read (see scenario_support)."""
        env = {"ACME_BENCH_TOKENS": str(self.tokens)}
        if self.dataset is not None:
            env["ACME_BENCH_DATASET"] = str(self.dataset)
        return env


Request = tuple[int | None, str, str, str]  # token index, method, path, JSON body


def write_request_list(path: Path, requests: list[Request]) -> Path:
    """Write a wrk request list: ``TOKEN_INDEX<tab>METHOD<tab>PATH[<tab>BODY]`` a line.

    Raises:
        ValueError: a path or body holds a tab or a newline (the format's separators).
    """
    lines = []
    for token, method, target, body in requests:
        if any(c in target + body for c in "\t\n"):
            raise ValueError(f"request {method} {target} holds a tab or newline")
        index = "-" if token is None else str(token)
        lines.append("\t".join([index, method, target, *([body] if body else [])]))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def health_files(directory: Path) -> DataFiles:
    """Files for the health scenario, which needs no data and no token."""
    tokens = directory / "tokens.txt"
    tokens.parent.mkdir(parents=True, exist_ok=True)
    tokens.touch()
    health = write_request_list(directory / "wrk-health.txt", [(None, "GET", "/health/live", "")])
    return DataFiles(tokens=tokens, requests={"health": health})
