"""Errors a user can fix by changing their input.

Every :class:`UserInputError` names the field that is wrong and what is allowed, so
the CLI can print it as one line and the dashboard can show it next to the field.
"""

from __future__ import annotations


class UserInputError(ValueError):
    """Bad input from a user: names the offending field and the allowed values."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class RunCancelled(RuntimeError):
    """Raised inside a run when its cancel check says the user asked to stop."""
