"""Check where a command will write before it does any work.

A run that takes an hour must not fail at the end because ``--out`` is a file, sits in
a read-only folder, or would silently overwrite somebody's files. These checks touch
nothing on disk and import no torch, so the CLI reports such mistakes at once.
"""

from __future__ import annotations

import os
from pathlib import Path

from pruning_core.errors import UserInputError


def _nearest_existing(path: Path) -> Path:
    probe = path.absolute()
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return probe


def _check_creatable(path: Path, field: str) -> None:
    """``path`` does not exist yet: its nearest existing ancestor must be a writable folder."""
    ancestor = _nearest_existing(path)
    if not ancestor.is_dir():
        raise UserInputError(field, f"cannot create {path}: {ancestor} is not a directory")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise UserInputError(field, f"cannot create {path}: {ancestor} is not writable")


def check_output_dir(path: Path, field: str, overwrite: bool) -> None:
    """``path`` is a directory this command may fill.

    Raises:
        UserInputError: it is a file or device, is not writable, or (without
            ``overwrite``) already holds files.
    """
    if str(path).strip() == "":
        raise UserInputError(field, "must name a directory")
    if not path.exists():
        _check_creatable(path, field)
        return
    if not path.is_dir():
        raise UserInputError(field, f"{path} exists and is not a directory")
    if not os.access(path, os.W_OK | os.X_OK):
        raise UserInputError(field, f"{path} is not writable")
    entries = sum(1 for _ in path.iterdir())
    if entries and not overwrite:
        raise UserInputError(
            field,
            f"{path} already holds {entries} entries; choose a new or empty directory, "
            "or pass --overwrite to replace the run's files there",
        )


def check_output_file(path: Path, field: str, overwrite: bool) -> None:
    """``path`` is a regular file this command may (re)write.

    Raises:
        UserInputError: it is a directory or device, not writable, or (without
            ``overwrite``) an existing file.
    """
    if str(path).strip() in ("", "."):
        raise UserInputError(field, "must name a file")
    if not path.exists():
        _check_creatable(path, field)
        return
    if path.is_dir():
        raise UserInputError(field, f"{path} is a directory; name a file, e.g. {path / 'out.csv'}")
    if not path.is_file():
        raise UserInputError(field, f"{path} is not a regular file")
    if not os.access(path, os.W_OK):
        raise UserInputError(field, f"{path} is not writable")
    if not overwrite:
        raise UserInputError(field, f"{path} already exists; pass --overwrite to replace it")
