"""Your own models and data: the models roots and what the pickers may offer under them.

The roots are ``PRUNING_CORE_MODELS`` (``os.pathsep``-separated) plus the dashboard's
``--models-dir DIR`` (``streamlit run dashboard/app.py -- --models-dir DIR``, or
``bash scripts/dashboard.sh -- --models-dir DIR``). ``--models-dir`` is added to
``PRUNING_CORE_MODELS`` of this process, so the engine and the workers started from here
enforce the same roots. With no root configured, the shipped ``sample_models/`` folder is
the root (its tiny language model and text show how it works).

Every path the form sends is resolved inside a root (links followed, no ``..`` escape);
anything else is refused with the field named.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import streamlit as st

import pruning_core

SAMPLES_ROOT = Path(__file__).resolve().parents[2] / "sample_models"
LISTING_TTL_S = 30  # new checkpoints and files show up within this many seconds


def _models_dir_arg() -> str | None:
    """``--models-dir DIR`` after ``--`` on the ``streamlit run`` command line, if given."""
    args = sys.argv[1:]
    return args[args.index("--models-dir") + 1] if "--models-dir" in args[:-1] else None


def configure_roots() -> None:
    """Add ``--models-dir`` to ``PRUNING_CORE_MODELS`` (once; workers inherit it)."""
    extra = _models_dir_arg()
    if not extra:
        return
    named = [p for p in os.environ.get(pruning_core.MODELS_ENV, "").split(os.pathsep) if p]
    if extra not in named:
        os.environ[pruning_core.MODELS_ENV] = os.pathsep.join([*named, extra])


def roots() -> list[Path]:
    """The configured roots that exist, else the shipped samples folder."""
    configured = pruning_core.model_roots()
    return configured or [SAMPLES_ROOT]


def roots_text() -> str:
    """The roots for a caption, saying when the samples folder is only the default."""
    shown = ", ".join(str(root) for root in roots())
    if pruning_core.model_roots():
        return shown
    return f"{shown} (default; set {pruning_core.MODELS_ENV} or --models-dir)"


def checked_path(text: str, field: str) -> str:
    """``text`` resolved inside the roots, as the recipe will hold it.

    Raises:
        UserInputError: (``field``) empty, or not inside a root.
    """
    if not text.strip():
        raise pruning_core.UserInputError(field, "choose a path inside the models roots")
    return str(pruning_core.resolve_under_roots(text.strip(), roots(), field))


@st.cache_data(ttl=LISTING_TTL_S, show_spinner=False)
def _listings(root_key: tuple[str, ...]) -> dict[str, list[str]]:
    found = [Path(root) for root in root_key]
    return {
        "checkpoints": pruning_core.find_checkpoints(found),
        "texts": pruning_core.find_texts(found),
        "image_datasets": pruning_core.find_image_datasets(found),
        "weight_files": pruning_core.find_weight_files(found),
    }


def listing(kind: str) -> list[str]:
    """``checkpoints`` (``hf:<dir>``), ``texts``, ``image_datasets`` or ``weight_files``
    found under the roots (re-read every :data:`LISTING_TTL_S` seconds)."""
    return _listings(tuple(str(root) for root in roots()))[kind]


def torchvision_archs() -> list[str]:
    """The torchvision image-classification architectures."""
    return pruning_core.torchvision_classifiers()
