"""Tests of the CI and release scripts in .ci/ (imported from their files)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

CI = Path(__file__).resolve().parent.parent


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"ci_{name}", CI / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def affected() -> ModuleType:
    return load("affected")


@pytest.fixture(scope="session")
def release() -> ModuleType:
    return load("release")


@pytest.fixture(scope="session")
def rehearsal() -> ModuleType:
    return load("rehearse_release")
