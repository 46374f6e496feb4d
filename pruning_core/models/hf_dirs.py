"""Where local checkpoints and texts may come from: the models roots (``PRUNING_CORE_MODELS``).

``PRUNING_CORE_MODELS`` holds one or more directories (``os.pathsep``-separated); the
dashboard adds its ``--models-dir``. When roots are set, ``hf:<path>`` must resolve (links
followed) to a directory inside one of them: a relative path is looked up under each root
in order, and ``..`` or a link cannot escape. Without roots, a path is taken as given
(relative to the working directory), which is what the CLI user typed.

:func:`find_checkpoints` and :func:`find_texts` list what a picker may offer.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from pruning_core.errors import UserInputError, shorten

MODELS_ENV = "PRUNING_CORE_MODELS"
MAX_DEPTH = 4  # directory levels searched below a root
TEXT_SUFFIXES = (".txt", ".jsonl")


def model_roots(extra: Iterable[str | Path] = ()) -> list[Path]:
    """The resolved roots from ``PRUNING_CORE_MODELS`` and ``extra`` (existing dirs only)."""
    named = [p for p in os.environ.get(MODELS_ENV, "").split(os.pathsep) if p.strip()]
    roots = []
    for entry in [*named, *extra]:
        path = Path(entry).expanduser().resolve()
        if path.is_dir() and path not in roots:
            roots.append(path)
    return roots


def roots_configured() -> bool:
    """Whether ``PRUNING_CORE_MODELS`` names any root."""
    return any(p.strip() for p in os.environ.get(MODELS_ENV, "").split(os.pathsep))


def resolve_under_roots(text: str, roots: list[Path], field: str = "model") -> Path:
    """``text`` as a path inside one of ``roots`` (links resolved).

    Raises:
        UserInputError: (``field``) the path does not resolve inside any root.
    """
    path = Path(text).expanduser()
    candidates = [path] if path.is_absolute() else [root / path for root in roots]
    for candidate in candidates:
        resolved = candidate.resolve()
        if any(resolved.is_relative_to(root) for root in roots) and resolved.exists():
            return resolved
    shown = ", ".join(str(root) for root in roots) or "none"
    raise UserInputError(
        field,
        f"'{shorten(text)}' is not inside the models roots ({MODELS_ENV}: {shorten(shown, 200)})",
    )


def user_path(text: str, field: str) -> Path:
    """A path the user named in ``field``: inside the models roots when they are set.

    Without ``PRUNING_CORE_MODELS`` it is taken as given (relative to the working
    directory); with it, as :func:`resolve_under_roots` finds it (no ``..`` escapes).

    Raises:
        UserInputError: (``field``) roots are set and the path is not inside one.
    """
    if roots_configured():
        return resolve_under_roots(text, model_roots(), field)
    return Path(text).expanduser()


def _walk(root: Path) -> Iterable[Path]:
    for current, dirs, _files in os.walk(root, followlinks=False):
        depth = len(Path(current).relative_to(root).parts)
        if depth >= MAX_DEPTH:
            dirs.clear()
        dirs.sort()
        yield Path(current)


def find_checkpoints(roots: list[Path]) -> list[str]:
    """``hf:<path>`` for every directory under ``roots`` with ``config.json`` and safetensors."""
    found = []
    for root in roots:
        for directory in _walk(root):
            if (directory / "config.json").is_file() and any(directory.glob("*.safetensors")):
                found.append(f"hf:{directory}")
    return found


def find_image_datasets(roots: list[Path]) -> list[str]:
    """Directories under ``roots`` holding ``train``, ``val`` and ``test`` sub-folders
    (each an ``ImageFolder`` layout), for ``data: {kind: image_folder}``."""
    found = []
    for root in roots:
        for directory in _walk(root):
            if all((directory / split).is_dir() for split in ("train", "val", "test")):
                found.append(str(directory))
    return found


def find_weight_files(roots: list[Path]) -> list[str]:
    """``*.safetensors`` files under ``roots`` outside checkpoint directories (those with a
    ``config.json``), for ``torchvision:<arch>`` with ``weights``."""
    found = []
    for root in roots:
        for directory in _walk(root):
            if not (directory / "config.json").is_file():
                found += sorted(str(path) for path in directory.glob("*.safetensors"))
    return found


def find_texts(roots: list[Path]) -> list[str]:
    """Text files (``.txt``, ``.jsonl``) under ``roots``, for ``data: {kind: text, path}``."""
    found = []
    for root in roots:
        for directory in _walk(root):
            found += sorted(
                str(path)
                for path in directory.iterdir()
                if path.is_file() and path.suffix.lower() in TEXT_SUFFIXES
            )
    return found
