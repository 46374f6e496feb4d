"""``model: "torchvision:<arch>"``: any torchvision classifier, with your weights or random init.

With ``weights: <file.safetensors>`` (a ``state_dict`` of the architecture, saved with
``safetensors.torch.save_file``) the number of classes is read from the file (the output
size of the classifier) and every tensor's name and shape is checked against the
architecture before anything is built. Without weights the model has random init and
ImageNet's 1000 classes: structure and speed only, like the built-in torchvision entries.

The check reads only the safetensors header; the tensors themselves are loaded (and
checked for NaN/Inf) by :func:`pruning_core.models.registry.build_model`.
"""

from __future__ import annotations

import difflib
import functools
import json
import struct
import warnings
from pathlib import Path
from typing import Any

import torch
import torchvision
from torch import nn
from torchvision.models import get_model_builder, list_models

from pruning_core.errors import UserInputError, shorten
from pruning_core.models.sources import model_source
from pruning_core.models.spec import ModelSpec

Shapes = dict[str, tuple[int, ...]]

EXAMPLES = ("resnet18", "resnet50", "mobilenet_v3_small", "efficientnet_b0", "vit_b_16")
_OTHER_TASKS = {  # torchvision sub-packages whose builders are not image classifiers
    "detection": torchvision.models.detection,
    "segmentation": torchvision.models.segmentation,
    "video": torchvision.models.video,
    "optical flow": torchvision.models.optical_flow,
    "quantized": torchvision.models.quantization,
}
# auxiliary classifiers return tuples while training; the engine trains the main head only
_NO_AUX = {"aux_logits": False, "init_weights": True}
_EXTRA_KWARGS: dict[str, dict[str, Any]] = {"googlenet": _NO_AUX, "inception_v3": _NO_AUX}
_AUX_PREFIXES = ("aux1.", "aux2.", "AuxLogits.")
# transformers: only MLP expansions lose channels (attention projections feed heads)
_CHANNEL_GLOBS = {
    "vit_": ("encoder.layers.*.mlp.0",),
    "swin_": ("features.*.*.mlp.0",),
    "maxvit_": ("*.mlp_layer.1",),
}
_MAX_HEADER = 100 * 1024 * 1024  # safetensors caps its JSON header at 100 MB too


def classifiers() -> list[str]:
    """The torchvision image-classification architectures, sorted."""
    return sorted(list_models(module=torchvision.models))


torchvision_classifiers = classifiers  # the name pruning_core exports


def _unknown(arch: str) -> UserInputError:
    for task, module in _OTHER_TASKS.items():
        if arch in list_models(module=module):
            return UserInputError(
                "model",
                f"'{shorten(arch)}' is a torchvision {task} model; only image classifiers are "
                f"supported, e.g. {', '.join(EXAMPLES)}",
            )
    close = difflib.get_close_matches(arch, classifiers(), n=3)
    hint = f"did you mean {', '.join(close)}? " if close else ""
    return UserInputError(
        "model",
        f"unknown torchvision architecture '{shorten(arch)}'; {hint}allowed: "
        f"{', '.join(EXAMPLES)} ... ({len(classifiers())} classifiers, "
        "torchvision.models.list_models(module=torchvision.models))",
    )


def _build(arch: str, num_classes: int, device: str) -> nn.Module:
    builder = get_model_builder(arch)
    with warnings.catch_warnings(), torch.device(device):
        warnings.simplefilter("ignore")  # torchvision's notes on future default inits
        return builder(num_classes=num_classes, **_EXTRA_KWARGS.get(arch, {}))


def _state_shapes(arch: str, num_classes: int) -> Shapes:
    try:
        model = _build(arch, num_classes, "meta")  # shapes only, no memory
    except (NotImplementedError, RuntimeError):  # e.g. RegNet computes widths from tensors
        model = _build(arch, num_classes, "cpu")
    return {name: tuple(tensor.shape) for name, tensor in model.state_dict().items()}


@functools.cache
def _layout(arch: str) -> tuple[Shapes, tuple[str, ...]]:
    """The state-dict shapes at 1000 classes and the classifier tensors (class count first)."""
    wide, narrow = _state_shapes(arch, 1000), _state_shapes(arch, 7)
    heads = tuple(name for name in wide if wide[name] != narrow[name])
    return wide, heads


def expected_shapes(arch: str, num_classes: int) -> Shapes:
    """The state-dict shapes of ``arch`` built with ``num_classes`` outputs."""
    wide, heads = _layout(arch)
    return {
        name: (num_classes, *shape[1:]) if name in heads else shape for name, shape in wide.items()
    }


def safetensors_shapes(path: Path) -> Shapes:
    """Tensor shapes from a safetensors file's header, without reading the tensors.

    Raises:
        UserInputError: missing file, a pickle, or not a safetensors file (field ``weights``).
    """
    if not path.is_file():
        raise UserInputError("weights", f"file not found: {shorten(path, 300)}")
    with path.open("rb") as handle:
        start = handle.read(8)
        if start[:1] == b"\x80" or start[:4] == b"PK\x03\x04":
            raise UserInputError(
                "weights",
                f"{shorten(path, 300)} is a pickle/torch.save file; only .safetensors files "
                "are accepted (pickles can run code and are never loaded)",
            )
        size = struct.unpack("<Q", start)[0] if len(start) == 8 else 0
        try:
            if not 0 < size <= _MAX_HEADER:
                raise ValueError("bad header size")
            header = json.loads(handle.read(size))
            return {
                name: tuple(int(side) for side in entry["shape"])
                for name, entry in header.items()
                if name != "__metadata__"
            }
        except (ValueError, TypeError, KeyError, AttributeError):
            raise UserInputError(
                "weights", f"{shorten(path, 300)} is not a valid safetensors file"
            ) from None


def _shape_problem(arch: str, expected: Shapes, found: Shapes) -> str | None:
    missing = sorted(set(expected) - set(found))
    unexpected = sorted(set(found) - set(expected))
    if any(name.startswith(_AUX_PREFIXES) for name in unexpected):
        return (
            f"holds auxiliary classifiers ({', '.join(unexpected[:2])} ...); save {arch} "
            "built with aux_logits=False (the engine keeps the main classifier only)"
        )
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing {', '.join(missing[:3])}" + (" ..." if len(missing) > 3 else ""))
        if unexpected:
            more = " ..." if len(unexpected) > 3 else ""
            parts.append(f"unexpected {', '.join(unexpected[:3])}{more}")
        return f"is not a {arch} state_dict: {'; '.join(parts)}"
    for name, shape in expected.items():
        if found[name] != shape:
            return f"'{name}' has shape {list(found[name])}, {arch} expects {list(shape)}"
    return None


def classes_in_weights(arch: str, found: Shapes, source: str) -> int:
    """The number of classes the weights' classifier outputs.

    Raises:
        UserInputError: the classifier tensors are missing or disagree (field ``weights``).
    """
    _, heads = _layout(arch)
    counts = {found[name][0] for name in heads if name in found and found[name]}
    if len(counts) != 1:
        raise UserInputError(
            "weights",
            f"{source}: cannot read the number of classes from {arch}'s classifier "
            f"({', '.join(heads)})",
        )
    return counts.pop()


def torchvision_spec(arch: str, weights: str | None = None) -> ModelSpec:
    """The spec of ``torchvision:<arch>`` with ``weights`` (a safetensors file) or random init.

    Raises:
        UserInputError: unknown or non-classification architecture (``model``); weights
            missing, not safetensors, or not matching the architecture (``weights``).
    """
    if arch not in classifiers():
        raise _unknown(arch)
    num_classes, file = 1000, None
    if weights is not None:
        file = Path(weights).expanduser()
        found = safetensors_shapes(file)
        source = shorten(file, 300)
        num_classes = classes_in_weights(arch, found, source)
        problem = _shape_problem(arch, expected_shapes(arch, num_classes), found)
        if problem is not None:
            raise UserInputError("weights", f"{source} {problem}")
    globs = next((g for prefix, g in _CHANNEL_GLOBS.items() if arch.startswith(prefix)), None)
    trained = f"{num_classes} classes, weights {file.name}" if file else "random init"
    return ModelSpec(
        name=f"torchvision:{arch}",
        factory=functools.partial(_build, arch, num_classes, "cpu"),
        input_shape=(3, 224, 224),
        weights=file,
        description=f"torchvision {arch}, {trained}",
        channel_prunable=globs,
    )


@model_source("torchvision")
def _resolve(text: str, weights: str | None) -> ModelSpec:
    return torchvision_spec(text.strip(), weights)
