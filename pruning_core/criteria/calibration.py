"""Calibration statistics: context-managed hooks that accumulate per-layer statistics.

Nothing stores whole activations: inputs are reduced to per-column squared norms and
outputs to per-channel mean magnitudes as batches stream through.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol, TypeVar

import torch
import torch.nn.functional as F
from torch import nn

from pruning_core.criteria import LayerStats
from pruning_core.masks.parametrize import weight_parameter
from pruning_core.models.layers import PrunableLayer, module_weight
from pruning_core.models.lm_metrics import task_loss


def unfold_inputs(module: nn.Module, x: torch.Tensor) -> torch.Tensor | None:
    """Exact rows of the layer's input in the columns of its 2-D weight view, or ``None``.

    Linear: every token is a row. Conv1d/Conv2d: every output position is a row of the
    unfolded (im2col) receptive field, ``(B * L, C * kernel)``, padding included; so
    ``rows @ weight_2d.T`` is the layer's output without bias (groups: see ``_grouped``).
    Other layers (Conv3d, transposed convolutions) cannot be unfolded here: ``None``.
    """
    if isinstance(module, nn.Linear):
        return x.reshape(-1, x.shape[-1])
    if not isinstance(module, nn.Conv1d | nn.Conv2d):
        return None
    padding: Any = module.padding
    if isinstance(padding, str) or module.padding_mode != "zeros":
        mode = "constant" if module.padding_mode == "zeros" else module.padding_mode
        x = F.pad(x, module._reversed_padding_repeated_twice, mode=mode)
        padding = 0
    kernel, dilation, stride = module.kernel_size, module.dilation, module.stride
    if isinstance(module, nn.Conv1d):  # a Conv1d is a Conv2d of height 1
        x = x.unsqueeze(-2)
        kernel, dilation, stride = (1, *kernel), (1, *dilation), (1, *stride)
        padding = (0, *padding) if isinstance(padding, tuple) else (0, padding)
    cols = F.unfold(x, kernel, dilation, padding, stride)  # (B, C*k, L)
    return cols.transpose(1, 2).reshape(-1, cols.shape[1])


def _input_columns(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Rows of the layer's input as the columns of its 2-D weight view: ``(samples, in)``."""
    cols = unfold_inputs(module, x)
    if cols is not None:
        return cols
    # Other convolutions: per-input-channel norms repeated over the kernel positions.
    kernel = int(module_weight(module)[0, 0].numel())
    per_channel = x.transpose(0, 1).reshape(x.shape[1], -1)
    return per_channel.t().repeat_interleave(kernel, dim=1)


def _grouped(module: nn.Module, sq_norm: torch.Tensor) -> torch.Tensor:
    """Split input norms per convolution group: ``(out, in/groups*k)`` when groups > 1."""
    groups = int(getattr(module, "groups", 1))
    if groups == 1:
        return sq_norm
    out = int(module_weight(module).shape[0])
    per_group = sq_norm.reshape(groups, -1)
    return per_group.repeat_interleave(out // groups, dim=0)


class _ActivationRecorder:
    def __init__(self, layers: list[PrunableLayer]) -> None:
        self.layers = layers
        self.in_sq: dict[str, torch.Tensor] = {}
        self.out_abs: dict[str, torch.Tensor] = {}
        self.out_count: dict[str, int] = {}

    def hook(self, name: str) -> Callable[..., None]:
        def record(
            module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor
        ) -> None:
            x = inputs[0].detach().float()
            sq = _input_columns(module, x).pow(2).sum(dim=0)
            self.in_sq[name] = self.in_sq.get(name, 0) + sq
            y = output.detach().float()
            channel_dim = 1 if y.dim() > 2 and not isinstance(module, nn.Linear) else y.dim() - 1
            per_channel = y.abs().transpose(0, channel_dim).reshape(y.shape[channel_dim], -1)
            self.out_abs[name] = self.out_abs.get(name, 0) + per_channel.sum(dim=1)
            self.out_count[name] = self.out_count.get(name, 0) + per_channel.shape[1]

        return record


R = TypeVar("R", bound="_HookSource")


class _HookSource(Protocol):
    def hook(self, name: str) -> Callable[..., None]: ...


@contextmanager
def _hooked(layers: list[PrunableLayer], recorder: R) -> Iterator[R]:
    """Forward hooks of ``recorder`` on every layer for the block's duration; always removed."""
    handles = [layer.module.register_forward_hook(recorder.hook(layer.name)) for layer in layers]
    try:
        yield recorder
    finally:
        for handle in handles:
            handle.remove()


@contextmanager
def recording_activations(layers: list[PrunableLayer]) -> Iterator[_ActivationRecorder]:
    """Attach forward hooks for the duration of the block; always removes them."""
    with _hooked(layers, _ActivationRecorder(layers)) as recorder:
        yield recorder


def collect_stats(
    model: nn.Module,
    layers: list[PrunableLayer],
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    needs: frozenset[str],
) -> dict[str, LayerStats]:
    """Run calibration batches through ``model`` (in eval mode) and gather what ``needs`` asks.

    Args:
        model: the model; its training mode is restored afterwards.
        layers: layers to gather statistics for.
        batches: ``(inputs, labels)`` pairs from the training split.
        needs: any of ``"grad"`` (mean |dL/dW| per batch) and ``"activation"``.
    """
    stats = {layer.name: LayerStats() for layer in layers}
    if not needs:
        return stats
    was_training = model.training
    model.eval()
    grad_sums = {
        layer.name: torch.zeros_like(layer.weight, dtype=torch.float32) for layer in layers
    }
    n_batches = 0
    want_grad = "grad" in needs
    with recording_activations(layers if "activation" in needs else []) as recorder:
        for inputs, labels in batches:
            with torch.set_grad_enabled(want_grad):
                loss = task_loss(model(inputs), labels)
            if want_grad:
                weights = [weight_parameter(layer.module) for layer in layers]
                grads = torch.autograd.grad(loss, weights, allow_unused=True)
                for layer, grad in zip(layers, grads, strict=True):
                    if grad is not None:
                        grad_sums[layer.name] += grad.detach().float().abs()
            n_batches += 1
    model.train(was_training)
    for layer in layers:
        entry = stats[layer.name]
        if want_grad:
            entry.grad_abs_mean = grad_sums[layer.name] / max(n_batches, 1)
        if layer.name in recorder.in_sq:
            entry.in_sq_norm = _grouped(layer.module, recorder.in_sq[layer.name])
            entry.out_abs_mean = recorder.out_abs[layer.name] / recorder.out_count[layer.name]
    return stats


class InputRecorder:
    """Streams each layer's inputs into per-column squared norms and, optionally, ``2 X^T X``.

    ``X`` are the unfolded inputs (see :func:`unfold_inputs`), accumulated batch by batch in
    ``dtype`` (float64 by default), so no activation is stored beyond the current batch.
    Grouped convolutions get one Hessian per group: ``(groups, in/groups, in/groups)``.
    """

    def __init__(self, hessian: bool, dtype: torch.dtype = torch.float64) -> None:
        self.want_hessian = hessian
        self.dtype = dtype
        self.sq_norm: dict[str, torch.Tensor] = {}
        self.hessian: dict[str, torch.Tensor] = {}
        self.rows: dict[str, int] = {}
        self.not_unfoldable: set[str] = set()

    def hook(self, name: str) -> Callable[..., None]:
        def record(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: Any) -> None:
            x = inputs[0].detach()
            cols = unfold_inputs(module, x)
            if cols is None:
                if self.want_hessian:
                    self.not_unfoldable.add(name)
                    return
                cols = _input_columns(module, x)
            cols = cols.to(self.dtype)
            self.sq_norm[name] = self.sq_norm.get(name, 0) + cols.pow(2).sum(dim=0)
            if self.want_hessian:
                groups = int(getattr(module, "groups", 1))
                per_group = cols.reshape(cols.shape[0], groups, -1).transpose(0, 1)
                gram = torch.bmm(per_group.transpose(1, 2), per_group).mul_(2.0)
                self.hessian[name] = self.hessian[name].add_(gram) if name in self.hessian else gram
            self.rows[name] = self.rows.get(name, 0) + int(cols.shape[0])

        return record

    def stats(self, layer: PrunableLayer) -> LayerStats:
        """The recorded statistics of ``layer`` (empty when it never ran)."""
        entry = LayerStats(hessian=self.hessian.get(layer.name))
        if layer.name in self.sq_norm:
            entry.in_sq_norm = _grouped(layer.module, self.sq_norm[layer.name])
        return entry


@contextmanager
def recording_inputs(
    layers: list[PrunableLayer], *, hessian: bool = False, dtype: torch.dtype = torch.float64
) -> Iterator[InputRecorder]:
    """Attach input-statistics hooks (Wanda norms, SparseGPT Hessians) for the block's duration.

    Args:
        layers: layers to record.
        hessian: also accumulate ``H = 2 X^T X`` (``in x in`` per layer).
        dtype: accumulation dtype, float64 (exact sums) or float32 (half the memory).
    """
    with _hooked(layers, InputRecorder(hessian, dtype)) as recorder:
        yield recorder
