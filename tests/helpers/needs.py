"""Tests of a system part (a browser, a PostgreSQL server) skip without it, except under CI, where it must be there."""

from __future__ import annotations

import os

import pytest


def need(reason: str | None, what: str) -> None:
    """Skip when ``reason`` says the part is missing; fail instead under CI=true."""
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"{what} must run under CI: {reason}")
        pytest.skip(reason)
