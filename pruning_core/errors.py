"""Errors a user can fix by changing their input.

Every :class:`UserInputError` names the field that is wrong and what is allowed, so
the CLI can print it as one line and the dashboard can show it next to the field.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import ValidationError


class UserInputError(ValueError):
    """Bad input from a user: names the offending field and the allowed values."""

    MAX_MESSAGE = 2000  # a hostile input must never turn into a megabyte-long error line

    def __init__(self, field: str, message: str) -> None:
        field, message = shorten(field, 200), shorten(message, self.MAX_MESSAGE)
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


def shorten(value: object, limit: int = 80) -> str:
    """``str(value)`` cut to ``limit`` characters, so a hostile input is never echoed whole."""
    text = str(value)
    return text if len(text) <= limit else f"{text[: limit - 3]}... ({len(text):,} characters)"


def from_validation_error(error: ValidationError, document: str) -> UserInputError:
    """The first pydantic validation error as a one-line :class:`UserInputError`."""
    first = error.errors()[0]
    field = ".".join(str(part) for part in first["loc"]) or document
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        message = f"unknown field (not part of a {document})"
    elif first["type"] == "missing":
        message = "required field is missing"
    elif first["type"] == "finite_number":
        message = "must be a finite number (NaN and Inf are not allowed)"
    return UserInputError(shorten(field, 200), message)
