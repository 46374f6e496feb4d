"""The SQLite file behind the run store: opening it safely, connections, transactions."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pruning_core.errors import UserInputError
from pruning_core.output_paths import check_output_file
from pruning_core.runs.records import SCHEMA, default_store_path

SQLITE_HEADER = b"SQLite format 3\x00"


def check_store_file(path: Path) -> None:
    """The store path is a SQLite file or can become one (never a folder or a device)."""
    if not path.exists():
        check_output_file(path, "store", overwrite=False)
        return
    if path.is_dir():
        raise UserInputError(
            "store", f"{path} is a directory; name a file, e.g. {path / 'runs.sqlite'}"
        )
    if not path.is_file():
        raise UserInputError("store", f"{path} is not a regular file")
    with path.open("rb") as handle:
        header = handle.read(len(SQLITE_HEADER))
    if header and header != SQLITE_HEADER:
        raise UserInputError("store", f"{path} is not a run store (not a SQLite database)")


def check_artifacts_known(artifacts: Path, last_id: int, store: Path) -> None:
    """Refuse a store whose artifacts folder holds runs it never issued.

    That happens when the database file was replaced or truncated: its ids would start
    again at 1 and new runs would overwrite the old runs' artifacts.
    """
    if not artifacts.is_dir():
        return
    unknown = sorted(
        int(entry.name)
        for entry in artifacts.iterdir()
        if entry.name.isdigit() and int(entry.name) > last_id
    )
    if unknown:
        raise UserInputError(
            "store",
            f"{store} has issued run ids up to {last_id}, but {artifacts} holds runs "
            f"{', '.join(map(str, unknown[:5]))}{' ...' if len(unknown) > 5 else ''} it does not "
            "know (was the database replaced or emptied?); restore the database or move "
            "that artifacts folder away, so no run's files are overwritten",
        )


class Database:
    """One store file; every method opens its own short-lived connection."""

    def __init__(self, path: str | Path | None = None) -> None:
        """Open the store at ``path`` (created if needed; default ``default_store_path()``)."""
        self.path = Path(path) if path is not None else default_store_path()
        self.root = self.path.parent
        check_store_file(self.path)
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            with self._connect() as db:
                db.execute("PRAGMA journal_mode=WAL")
                db.executescript(SCHEMA)
                known = db.execute(
                    "SELECT MAX(seq) FROM sqlite_sequence WHERE name = 'runs'"
                ).fetchone()[0]
        except (sqlite3.Error, OSError) as error:
            raise UserInputError(
                "store", f"{self.path} is not a usable run store: {error}"
            ) from None
        check_artifacts_known(self.root / "artifacts", int(known or 0), self.path)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        db.row_factory = sqlite3.Row
        try:
            yield db
        finally:
            db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction taken up front, so read-then-write steps never interleave."""
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def artifacts_dir(self, run_id: int) -> Path:
        """Folder of one run's artifacts (recipe, results, layers CSV, weights)."""
        return self.root / "artifacts" / str(run_id)

    @property
    def uploads_dir(self) -> Path:
        """Folder of uploaded weights files that recipes refer to."""
        return self.root / "uploads"
