"""Skip a test whose engine this machine lacks, except under ``CI=true``, where that is a
failure."""

from __future__ import annotations

import os

import pytest


def skip_or_fail(message: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message + "; under CI=true the cluster tests must run")
    pytest.skip(message)
