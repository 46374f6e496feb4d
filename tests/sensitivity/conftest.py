"""Sensitivity layer: the tiny model's profile, measured once per session."""

from __future__ import annotations

from typing import Any

import pytest
from tiny_model import TinyModel

from pruning_core.sensitivity.profile import compute_profile, parse_job
from pruning_core.threads import fixed_threads


@pytest.fixture(scope="session")
def mlp_job(tiny_model: TinyModel) -> dict[str, Any]:
    """A profile job on the tiny model: two sparsities, 64 calibration samples."""
    return {"model": tiny_model.name, "sparsities": [0.5, 0.9], "calibration": {"samples": 64}}


@pytest.fixture(scope="session")
def mlp_profile(mlp_job: dict[str, Any]) -> dict[str, Any]:
    """The measured profile of :func:`mlp_job` (with latency)."""
    with fixed_threads(1):  # session fixtures start before the autouse one_thread
        return compute_profile(parse_job(mlp_job), lambda *_: None)
