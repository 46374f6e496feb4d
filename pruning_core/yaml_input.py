"""Read YAML a user wrote, defensively: one clear line for anything malformed or hostile.

``yaml.safe_load`` never runs code, but it still accepts duplicate keys (the last one
silently wins), nests until Python's recursion limit, and reads files of any size. This
loader refuses all three, and an empty document, naming the field (``recipe``, ``job``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from pruning_core.errors import UserInputError

MAX_YAML_BYTES = 1_000_000  # a recipe is a page of YAML; larger files are refused unread


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate mapping keys."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _value in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                mark = key_node.start_mark
                raise UserInputError(
                    str(key),
                    f"duplicate key at line {mark.line + 1} (the YAML sets it twice; keep one)",
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def load_yaml_text(text: str, what: str) -> Any:
    """Parse ``text`` as YAML for the document ``what`` (e.g. ``"recipe"``)."""
    if len(text) > MAX_YAML_BYTES:
        raise UserInputError(what, f"is {len(text):,} characters; at most {MAX_YAML_BYTES:,}")
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None)
        raise UserInputError(
            what, f"malformed YAML{where}" + (f": {problem}" if problem else "")
        ) from None
    except RecursionError:
        raise UserInputError(what, "YAML nested too deeply") from None
    if data is None:
        raise UserInputError(
            what, "is empty (only comments or blank lines); write at least one field"
        )
    return data


def load_yaml_file(path: str | Path, what: str) -> Any:
    """Read and parse a YAML file, refusing missing, unreadable or oversized files."""
    file = Path(path)
    if not file.is_file():
        raise UserInputError(what, f"file not found: {file}")
    try:
        size = file.stat().st_size
        if size > MAX_YAML_BYTES:
            raise UserInputError(what, f"{file} is {size:,} bytes; at most {MAX_YAML_BYTES:,}")
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise UserInputError(what, f"cannot read {file}: {error}") from None
    return load_yaml_text(text, what)
