"""Calibration statistics: context-managed hooks that accumulate per-layer statistics.

Nothing stores whole activations: inputs are reduced to per-column squared norms and
outputs to per-channel mean magnitudes as batches stream through.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn

from pruning_core.criteria import LayerStats
from pruning_core.layers import PrunableLayer, module_weight
from pruning_core.masking import weight_parameter


def _input_columns(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Rows of the layer's input as the columns of its 2-D weight view: ``(samples, in)``."""
    if isinstance(module, nn.Linear):
        return x.reshape(-1, x.shape[-1])
    if isinstance(module, nn.Conv2d) and isinstance(module.padding, tuple):
        cols = F.unfold(
            x, module.kernel_size, module.dilation, module.padding, module.stride
        )  # (B, C*kh*kw, L)
        return cols.transpose(1, 2).reshape(-1, cols.shape[1])
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


@contextmanager
def recording_activations(layers: list[PrunableLayer]) -> Iterator[_ActivationRecorder]:
    """Attach forward hooks for the duration of the block; always removes them."""
    recorder = _ActivationRecorder(layers)
    handles = [layer.module.register_forward_hook(recorder.hook(layer.name)) for layer in layers]
    try:
        yield recorder
    finally:
        for handle in handles:
            handle.remove()


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
                loss = F.cross_entropy(model(inputs), labels)
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
