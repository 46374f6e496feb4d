"""Where a run's data comes from, when it is not the model's own (``recipe.data``).

``text``: a file or directory of ``.txt``/``.jsonl`` tokenized with the model's tokenizer
and cut into windows of ``seq_len`` tokens (causal language models, perplexity).
``image_folder``: torchvision ``ImageFolder`` directories for train/val/test (classifiers).
The loaders live in :mod:`pruning_core.models.text_data` and
:mod:`pruning_core.models.image_folder`; these are the recipe fields.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from pruning_core.structure import Frozen


class TextData(Frozen):
    """Plain text for a causal LM: calibration, validation and test parts never overlap."""

    kind: Literal["text"] = "text"
    path: str = Field(description="a .txt/.jsonl file or a directory of them")
    seq_len: int = Field(128, ge=8, le=32768, description="tokens per window")
    val_fraction: float = Field(0.1, gt=0.0, lt=0.5, description="share of tokens for validation")
    test_fraction: float = Field(0.1, gt=0.0, lt=0.5, description="share of tokens for test")


class ImageFolderData(Frozen):
    """``ImageFolder`` layout (one sub-folder per class) for each split."""

    kind: Literal["image_folder"] = "image_folder"
    train: str
    val: str
    test: str
    image_size: int = Field(224, ge=8, le=1024)
    mean: tuple[float, float, float] | None = Field(
        None, description="normalisation mean (null: the model's defaults, ImageNet)"
    )
    std: tuple[float, float, float] | None = Field(
        None, description="normalisation std (null: the model's defaults, ImageNet)"
    )


DataSource = Annotated[TextData | ImageFolderData, Field(discriminator="kind")]
