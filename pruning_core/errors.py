"""Errors a user can fix by changing their input.

Every :class:`UserInputError` names the field that is wrong and what is allowed, so
the CLI can print it as one line and the dashboard can show it next to the field.
"""

from __future__ import annotations

from dataclasses import dataclass


class UserInputError(ValueError):
    """Bad input from a user: names the offending field and the allowed values."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class RunCancelled(RuntimeError):
    """Raised inside a run when its cancel check says the user asked to stop."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a recipe for a model: the field, why, and what is allowed.

    ``pruning_core.check`` returns a list of these; the CLI prints the first, the
    dashboard lists them all next to the form, and ``prune`` raises the first one.
    """

    field: str
    message: str
    allowed: tuple[str, ...] = ()

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"

    def as_error(self) -> UserInputError:
        """The same problem as an exception (what ``prune`` raises)."""
        return UserInputError(self.field, self.message)

    @classmethod
    def of(cls, error: UserInputError) -> Problem:
        """The problem an engine step raised."""
        return cls(error.field, error.message)
