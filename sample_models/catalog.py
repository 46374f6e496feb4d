"""Catalog of the shipped sample models and a loader for their trained weights."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from safetensors.torch import load_file
from torch import nn

from sample_models.architectures import DigitsCNN, DigitsMLP, DigitsViT

WEIGHTS_DIR = Path(__file__).parent / "weights"
DIGITS_INPUT_SHAPE: tuple[int, ...] = (1, 8, 8)


@dataclass(frozen=True)
class SampleModelInfo:
    """Everything needed to build one sample model and find its shipped weights.

    Attributes:
        name: Catalog key, also the weights file stem.
        factory: Builds a fresh, untrained model.
        weights_path: Absolute path of the ``.safetensors`` weights file.
        description: One-line human description.
        input_shape: Shape of one input sample, without the batch dimension.
    """

    name: str
    factory: Callable[[], nn.Module]
    weights_path: Path
    description: str
    input_shape: tuple[int, ...] = DIGITS_INPUT_SHAPE


def _info(name: str, factory: Callable[[], nn.Module], description: str) -> SampleModelInfo:
    return SampleModelInfo(
        name=name,
        factory=factory,
        weights_path=(WEIGHTS_DIR / f"{name}.safetensors").resolve(),
        description=description,
    )


SAMPLE_MODELS: dict[str, SampleModelInfo] = {
    info.name: info
    for info in (
        _info("digits_cnn", DigitsCNN, "3-layer conv net with BatchNorm, 8x8 digits"),
        _info("digits_mlp", DigitsMLP, "MLP 64-256-256-128-10 on flattened 8x8 digits"),
        _info("digits_vit", DigitsViT, "Tiny ViT: 2x2 patches, width 64, 3 blocks, 4 heads"),
    )
}


def load_trained(name: str) -> nn.Module:
    """Build a sample model and load its shipped weights (safetensors only, no pickle).

    Args:
        name: A key of :data:`SAMPLE_MODELS`.

    Returns:
        The model with trained weights, in eval mode.

    Raises:
        KeyError: If ``name`` is not in the catalog.
        FileNotFoundError: If the weights file is missing.
    """
    if name not in SAMPLE_MODELS:
        raise KeyError(f"unknown sample model {name!r}; choose from {sorted(SAMPLE_MODELS)}")
    info = SAMPLE_MODELS[name]
    if not info.weights_path.is_file():
        raise FileNotFoundError(f"no weights for {name!r} at {info.weights_path}")
    model = info.factory()
    model.load_state_dict(load_file(info.weights_path))
    return model.eval()
