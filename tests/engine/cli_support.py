"""The CLI run in-process, and the one-line contract of its user errors."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from typer.testing import CliRunner, Result

from pruning_core.cli import app


class Cli:
    """``pruning-core`` invoked in-process (Typer's runner), so tables of cases stay fast."""

    def __init__(self) -> None:
        self.runner = CliRunner()

    def invoke(self, *args: str, env: dict[str, str] | None = None) -> Result:
        """Run the CLI with ``args``; the result holds ``exit_code`` and ``output``."""
        return self.runner.invoke(app, list(args), env=env)

    @staticmethod
    def error_line(result: Result, *pieces: str) -> str:
        """The one ``error: field: message`` line of a user error (exit code 2).

        Asserts there is exactly one non-empty line, no traceback, and every piece in it.
        """
        assert result.exit_code == 2, result.output
        lines = [line for line in result.output.strip().splitlines() if line.strip()]
        assert len(lines) == 1, result.output
        assert lines[0].startswith("error: "), result.output
        assert "Traceback" not in result.output
        for piece in pieces:
            assert piece in lines[0], (piece, lines[0])
        return lines[0]


@dataclass(frozen=True)
class BadRun:
    """``pruning-core run RECIPE --out OUT`` on a row of the bad-recipe table."""

    recipe: Path
    out: Path
    result: Result
