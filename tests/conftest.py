"""Fixtures of the template tests; what they are built from is in support.py."""

from __future__ import annotations

import pytest

from s3_server import s3_server  # noqa: F401  (SeaweedFS on loopback, for the S3 tests)
from support import bake_template, isolated_env  # noqa: F401  (autouse: git and DVC of our own)


@pytest.fixture
def bake(tmp_path):
    return lambda **answers: bake_template(tmp_path, **answers)
