"""Fixtures for the registry's own tests; what they are built from is in support.py."""

from __future__ import annotations

import sys

import pytest

from support import SRC, RegistryRepo, isolated_env, make_registry  # noqa: F401  (autouse)

if str(SRC) not in sys.path:  # test this checkout's helper, installed or not
    sys.path.insert(0, str(SRC))


@pytest.fixture(scope="session")
def new_registry():
    """`new_registry(folder)`: the builder, for fixtures wider than one test."""
    return make_registry


@pytest.fixture
def registry_repo(tmp_path) -> RegistryRepo:
    """A fresh, empty registry for a test that changes it."""
    return make_registry(tmp_path)


@pytest.fixture
def cli(registry_repo):
    """`cli(*args)`: the helper run in `registry_repo`, returning the CompletedProcess."""
    return registry_repo.cli
