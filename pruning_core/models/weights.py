"""Load user weights safely: safetensors only, checked against the architecture.

Pickle-based files (``torch.save`` output) can run code when loaded, so they are
refused outright rather than opened with ``torch.load``.
"""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors_bytes
from torch import nn

from pruning_core.errors import UserInputError

_PICKLE_MAGIC = (b"\x80", b"PK\x03\x04")  # pickle protocol 2+, zip (torch.save)


def validate_state(model: nn.Module, tensors: dict[str, torch.Tensor], source: str) -> None:
    """Check names, shapes and finiteness of ``tensors`` against ``model``'s state dict."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing {', '.join(missing[:5])}" + (" ..." if len(missing) > 5 else ""))
        if unexpected:
            shown = ", ".join(unexpected[:5]) + (" ..." if len(unexpected) > 5 else "")
            parts.append(f"unexpected {shown}")
        raise UserInputError("weights", f"{source} does not match the model: {'; '.join(parts)}")
    for name, tensor in tensors.items():
        if tuple(tensor.shape) != tuple(expected[name].shape):
            raise UserInputError(
                "weights",
                f"{source}: '{name}' has shape {list(tensor.shape)}, "
                f"the model expects {list(expected[name].shape)}",
            )
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise UserInputError("weights", f"{source}: '{name}' contains NaN or Inf values")


def read_safetensors(data: bytes, source: str) -> dict[str, torch.Tensor]:
    """Parse safetensors bytes, refusing pickles and corrupt files with a clear message."""
    if data.startswith(_PICKLE_MAGIC):
        raise UserInputError(
            "weights",
            f"{source} is a pickle/torch.save file; only .safetensors files are accepted "
            "(pickles can run code and are never loaded)",
        )
    try:
        return load_safetensors_bytes(data)
    except (SafetensorError, ValueError, RuntimeError) as error:
        raise UserInputError(
            "weights", f"{source} is not a valid safetensors file ({error})"
        ) from None


def load_weights_bytes(model: nn.Module, data: bytes, source: str = "upload") -> None:
    """Validate and load safetensors ``data`` into ``model``."""
    tensors = read_safetensors(data, source)
    validate_state(model, tensors, source)
    model.load_state_dict(tensors)


def load_weights_file(model: nn.Module, path: str | Path) -> None:
    """Validate and load a safetensors file into ``model``."""
    file = Path(path)
    if not file.is_file():
        raise UserInputError("weights", f"file not found: {file}")
    load_weights_bytes(model, file.read_bytes(), str(file))
