"""Measurements of a model: accuracy and loss, MACs per layer, parameters and bytes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from pruning_core.models.data import Split
from pruning_core.models.layers import PRUNABLE_TYPES, as_2d, module_weight
from pruning_core.models.lm_metrics import perplexity

BYTES_PER_ELEMENT = {"fp32": 4, "fp16": 2, "bf16": 2}
DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


@torch.no_grad()
def evaluate(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 512
) -> tuple[float, float]:
    """Accuracy and mean cross-entropy loss of ``model`` (eval mode) on ``(x, y)``.

    Causal LMs (ids ``(N, T)`` in, logits ``(N, T, V)`` out, ``y`` the ids): next-token
    accuracy and loss per predicted token (``exp(loss)`` is the perplexity; runs report it
    through :func:`pruning_core.models.lm_metrics.perplexity`). Integer inputs (token
    ids) are never cast to the model's dtype.
    """
    was_training = model.training
    model.eval()
    dtype = next(model.parameters()).dtype
    correct, loss_sum, count = 0, 0.0, 0
    for start in range(0, len(y), batch_size):
        inputs = x[start : start + batch_size]
        logits = model(inputs.to(dtype) if inputs.is_floating_point() else inputs).float()
        labels = y[start : start + batch_size]
        if logits.dim() == 3 and labels.dim() == 2:  # causal LM: predict token t + 1
            logits, labels = logits[:, :-1].flatten(0, 1), labels[:, 1:].flatten()
        loss_sum += float(F.cross_entropy(logits, labels, reduction="sum"))
        correct += int((logits.argmax(dim=1) == labels).sum())
        count += int(labels.numel())
    model.train(was_training)
    return correct / count, loss_sum / count


def split_metrics(model: nn.Module, part: Split, metric: str) -> tuple[float, float]:
    """``(metric, loss)`` of ``model`` on one split (``metric`` as ``ModelSpec.metric``):
    accuracy and cross entropy, or for causal LMs perplexity over the split's windows and
    the mean NLL per predicted token."""
    if metric == "perplexity":
        return perplexity(model, part.x)
    return evaluate(model, part.x, part.y)


@torch.no_grad()
def top_k_accuracy(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, k: int = 5, batch_size: int = 512
) -> float | None:
    """Share of samples whose label is among the ``k`` highest logits (eval mode).

    ``None`` when the model has ``k`` classes or fewer: top-k would always be 1.
    """
    was_training = model.training
    model.eval()
    dtype = next(model.parameters()).dtype
    correct = 0
    try:
        for start in range(0, len(y), batch_size):
            logits = model(x[start : start + batch_size].to(dtype))
            if not isinstance(logits, torch.Tensor) or logits.dim() != 2 or logits.shape[1] <= k:
                return None  # not plain class logits, or too few classes
            top = logits.float().topk(k, dim=1).indices
            correct += int((top == y[start : start + batch_size, None]).any(dim=1).sum())
    finally:
        model.train(was_training)
    return correct / len(y) if len(y) else None


@torch.no_grad()
def layer_macs(model: nn.Module, input_shape: tuple[int, ...]) -> dict[str, int]:
    """Dense multiply-accumulates of every Linear/Conv layer for one input sample.

    ``output elements x (inputs per output)``: ``in_features`` for Linear,
    ``in_channels / groups * kernel`` for Conv. Other operations (attention products,
    norms, activations) are not counted.
    """
    macs: dict[str, int] = {}

    def hook(name: str) -> Callable[..., None]:
        def record(module: nn.Module, inputs: Any, output: torch.Tensor) -> None:
            per_output = as_2d(module_weight(module)).shape[1]
            macs[name] = macs.get(name, 0) + int(output.numel()) * per_output

        return record

    handles = [
        module.register_forward_hook(hook(name))
        for name, module in model.named_modules()
        if isinstance(module, PRUNABLE_TYPES)
    ]
    was_training = model.training
    model.eval()
    try:
        param = next(model.parameters())
        model(torch.zeros((1, *input_shape), dtype=param.dtype, device=param.device))
    finally:
        model.train(was_training)
        for handle in handles:
            handle.remove()
    return macs


def count_params(model: nn.Module) -> int:
    """Number of parameters."""
    return sum(p.numel() for p in model.parameters())


def count_nonzero_params(model: nn.Module) -> int:
    """Number of parameters that are not exactly zero."""
    return sum(int(torch.count_nonzero(p)) for p in model.parameters())


def dense_bytes(model: nn.Module, precision: str) -> int:
    """Bytes of the model's parameters and buffers stored densely at ``precision``.

    Floating-point tensors take the precision's element size; integer buffers
    (e.g. BatchNorm's batch counter) keep their own.
    """
    total = 0
    for tensor in list(model.parameters()) + list(model.buffers()):
        size = BYTES_PER_ELEMENT[precision] if tensor.is_floating_point() else tensor.element_size()
        total += tensor.numel() * size
    return total


def reconstruction_error(
    weight: torch.Tensor, new_weight: torch.Tensor, inputs: torch.Tensor
) -> float:
    """Relative output error of a pruned linear layer on ``inputs``, in float64.

    ``||X W^T - X W'^T||_F^2 / ||X W^T||_F^2`` for ``weight`` ``W`` and ``new_weight``
    ``W'`` of shape ``(out_features, in_features)`` and ``inputs`` ``X`` of shape
    ``(n_samples, in_features)``. Returns 0.0 when both outputs are zero and ``inf`` when
    only the dense output is.
    """
    x = inputs.detach().double()
    dense = weight.detach().double()
    error = float((x @ (dense - new_weight.detach().double()).t()).pow(2).sum())
    reference = float((x @ dense.t()).pow(2).sum())
    if reference == 0.0:
        return 0.0 if error == 0.0 else float("inf")
    return error / reference


def reconstruction_error_from_hessian(
    weight: torch.Tensor, new_weight: torch.Tensor, hessian: torch.Tensor
) -> float:
    """:func:`reconstruction_error` from streamed ``H = c X^T X`` (any ``c > 0``).

    ``tr(D H D^T) / tr(W H W^T)`` with ``D = W - W'``: no inputs need to be stored.
    """
    h = hessian.detach().double()
    dense = weight.detach().double()
    delta = dense - new_weight.detach().double()
    error = float(((delta @ h) * delta).sum())
    reference = float(((dense @ h) * dense).sum())
    if reference == 0.0:
        return 0.0 if error == 0.0 else float("inf")
    return error / reference
