"""Engine layer: the CLI, in-process."""

from __future__ import annotations

import pytest
from cli_support import Cli


@pytest.fixture(scope="session")
def cli() -> Cli:
    """``pruning-core`` run in-process; ``cli.error_line`` checks a one-line user error."""
    return Cli()
