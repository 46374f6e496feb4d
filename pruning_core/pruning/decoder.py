"""LLM-scale one-shot pruning, block by block through a decoder stack (SparseGPT/Wanda style).

:func:`pruning_core.pruning.sequential.sequential_prune` reruns the whole model up to
each block; for a language model that is quadratic in the depth and needs the whole
model in memory at once. Here, as in the SparseGPT and Wanda reference code:

1. the calibration batches run once through everything before the stack and the
   inputs of block 0 are captured (hidden states plus the keyword arguments the model
   passes to every block: attention mask, rotary position embeddings...);
2. each block in turn is moved to the compute device, runs on its captured inputs while
   hooks stream its layers' statistics (Wanda norms, SparseGPT Hessians), its layers are
   pruned (:func:`pruning_core.pruning.sequential.prune_layer`), and it runs again: the
   *pruned* block's outputs are the next block's inputs;
3. the block goes back to where the model lives.

Peak memory is one block plus the calibration activations at one block boundary (inputs
and outputs, ``2 x samples x seq_len x hidden``), plus the statistics of one block's
layers. Layers of a block share one calibration pass, as in the reference code. Prunable
layers outside the stack (``lm_head`` when it is not skipped) are pruned afterwards by
the generic sequential path.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from pruning_core.criteria import Criterion
from pruning_core.criteria.calibration import recording_inputs
from pruning_core.models.layers import PrunableLayer
from pruning_core.pruning.sequential import BlockProgress, prune_layer, sequential_prune
from pruning_core.recipe import Structure

Batches = Iterable[tuple[torch.Tensor, torch.Tensor]]
BlockInputs = list[tuple[tuple[Any, ...], dict[str, Any]]]  # (args, kwargs) per batch


@dataclass(frozen=True)
class DecoderStack:
    """The ``ModuleList`` of transformer blocks and where it sits in the model."""

    name: str
    blocks: nn.ModuleList

    def block_of(self, layer_name: str) -> int | None:
        """Index of the block holding ``layer_name``, or ``None`` outside the stack."""
        prefix = f"{self.name}."
        if not layer_name.startswith(prefix):
            return None
        index = layer_name[len(prefix) :].split(".", 1)[0]
        return int(index) if index.isdigit() else None


def find_decoder_stack(model: nn.Module, layers: list[PrunableLayer]) -> DecoderStack | None:
    """The ``ModuleList`` whose children hold the most of ``layers`` (``None``: none holds any)."""
    best: tuple[int, str, nn.ModuleList] | None = None
    for name, module in model.named_modules():
        if not isinstance(module, nn.ModuleList) or len(module) == 0:
            continue
        inside = sum(layer.name.startswith(f"{name}.") for layer in layers)
        if inside and (best is None or inside > best[0]):
            best = (inside, name, module)
    return DecoderStack(best[1], best[2]) if best is not None else None


class _Captured(Exception):
    """Raised by the stand-in for block 0 once it has its inputs."""


class _Catcher(nn.Module):
    """Stands in for block 0 and records what the model passes it."""

    def __init__(self, store: BlockInputs) -> None:
        super().__init__()
        self.store = store

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        self.store.append((args, kwargs))
        raise _Captured


@contextmanager
def _stand_ins(stack: DecoderStack, catcher: nn.Module) -> Any:
    """Replace the blocks by the catcher (block 0) and empty modules, restoring them after."""
    saved = dict(stack.blocks._modules)
    try:
        for index, key in enumerate(saved):
            stack.blocks._modules[key] = catcher if index == 0 else nn.Module()
        yield
    finally:
        stack.blocks._modules.update(saved)


def _home(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


@torch.no_grad()
def capture_block_inputs(
    model: nn.Module, stack: DecoderStack, batches: Batches, device: torch.device
) -> BlockInputs:
    """Run ``batches`` up to block 0 and return its inputs, on ``device``.

    The blocks never run and never move: only the modules before and around the stack
    (embeddings, rotary tables, final norm, head) visit ``device`` for this pass.
    """
    store: BlockInputs = []
    home = _home(model)
    with _stand_ins(stack, _Catcher(store)):
        model.to(device)
        try:
            for inputs, _labels in batches:
                with suppress(_Captured):
                    model(inputs.to(device))
        finally:
            model.to(home)
    return store


def _hidden(output: Any) -> torch.Tensor:
    """A block's hidden states (some architectures return a tuple)."""
    return output[0] if isinstance(output, tuple | list) else output


def _with_hidden(
    args: tuple[Any, ...], kwargs: dict[str, Any], hidden: torch.Tensor
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """The same call with other hidden states (passed by position or as ``hidden_states``)."""
    if args:
        return (hidden, *args[1:]), kwargs
    return (), {**kwargs, "hidden_states": hidden}


def _run_block(block: nn.Module, inputs: BlockInputs) -> BlockInputs:
    """The block's outputs as the next block's inputs (same keyword arguments)."""
    return [_with_hidden(args, kwargs, _hidden(block(*args, **kwargs))) for args, kwargs in inputs]


def _prune_block(
    block: nn.Module,
    members: list[PrunableLayer],
    inputs: BlockInputs,
    criterion: Criterion,
    structure: Structure,
    targets: dict[str, float],
    dtype: torch.dtype,
) -> dict[str, str]:
    notes: dict[str, str] = {}
    hessian = "hessian" in criterion.needs
    with recording_inputs(members, hessian=hessian, dtype=dtype) as recorder:
        for args, kwargs in inputs:
            block(*args, **kwargs)
    for layer in members:
        if layer.name in recorder.not_unfoldable:
            notes[layer.name] = f"skipped: {criterion.name} cannot unfold {layer.kind} inputs"
        elif layer.name not in recorder.rows:
            notes[layer.name] = "skipped: the layer never ran on the calibration data"
        else:
            prune_layer(layer, recorder.stats(layer), criterion, structure, targets[layer.name])
    return notes


@torch.no_grad()
def decoder_prune(
    model: nn.Module,
    layers: list[PrunableLayer],
    batches: Batches,
    criterion: Criterion,
    structure: Structure,
    targets: dict[str, float],
    *,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float64,
    on_block: BlockProgress | None = None,
) -> dict[str, str]:
    """Prune ``layers`` block by block through the decoder stack (see the module docstring).

    Same contract as :func:`pruning_core.pruning.sequential.sequential_prune`, plus:

    Args:
        device: where each block computes (default: where the model is). The model stays
            where it is; one block at a time visits ``device``.
        on_block: ``(index, total, block name)`` before each block of the stack.

    Returns:
        Notes for layers that could not be pruned (they stay as they were).
    """
    batches = list(batches)
    stack = find_decoder_stack(model, layers)
    if stack is None:
        return sequential_prune(
            model, layers, batches, criterion, structure, targets, dtype=dtype, on_block=on_block
        )
    members: dict[int, list[PrunableLayer]] = {}
    outside = []
    for layer in layers:
        index = stack.block_of(layer.name)
        if index is None:
            outside.append(layer)
        else:
            members.setdefault(index, []).append(layer)
    home = _home(model)
    compute = torch.device(device) if device is not None else home
    was_training = model.training
    model.eval()
    notes: dict[str, str] = {}
    try:
        inputs = capture_block_inputs(model, stack, batches, compute)
        last = max(members, default=-1)  # later blocks need no inputs: nothing to prune
        for index in range(last + 1):
            block = stack.blocks[index]
            if on_block is not None:
                on_block(index, last + 1, f"{stack.name}.{index}")
            block.to(compute)
            try:
                if index in members:
                    notes.update(
                        _prune_block(
                            block, members[index], inputs, criterion, structure, targets, dtype
                        )
                    )
                if index < last:
                    inputs = _run_block(block, inputs)
            finally:  # also when cancelled: the block goes back where the model lives
                block.to(home)
        del inputs
        if outside:
            notes.update(
                sequential_prune(
                    model, outside, batches, criterion, structure, targets, dtype=dtype
                )
            )
    finally:
        model.train(was_training)
    return notes
