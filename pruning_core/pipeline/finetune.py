"""Mask-preserving finetuning, optionally distilling from the dense model.

Masks live in parametrizations (see :mod:`pruning_core.masks.parametrize`), so this loop is a
plain training loop: any optimizer keeps pruned weights at exactly zero.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import torch
import torch.nn.functional as F
from torch import nn

from pruning_core.errors import RunCancelled
from pruning_core.models.lm_metrics import task_loss
from pruning_core.recipe import Finetune

# Called after each optimizer step with the global step number; returns True when it
# changed the set of parameters (channels removed), so the optimizer must be rebuilt.
StepHook = Callable[[int], bool]
EpochHook = Callable[[int, float], None]  # (epoch, mean train loss)
CancelCheck = Callable[[], bool]


def make_optimizer(model: nn.Module, config: Finetune) -> torch.optim.Optimizer:
    """The recipe's optimizer over all trainable parameters."""
    params = [p for p in model.parameters() if p.requires_grad]
    if config.optimizer == "sgd":
        return torch.optim.SGD(
            params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay
        )
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)
    return torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)


def shuffled_batches(
    x: torch.Tensor, y: torch.Tensor, batch_size: int, generator: torch.Generator
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """One epoch of seeded, shuffled mini-batches."""
    order = torch.randperm(len(y), generator=generator)
    for start in range(0, len(y), batch_size):
        index = order[start : start + batch_size]
        yield x[index], y[index]


def steps_per_epoch(n_samples: int, batch_size: int) -> int:
    """Optimizer steps in one epoch."""
    return math.ceil(n_samples / batch_size)


def distillation_loss(
    logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float
) -> torch.Tensor:
    """Hinton et al.'s soft-target loss, ``T^2 * KL(teacher_T || student_T)``.

    Per sample for classifiers; per token for causal LMs (logits ``(N, T, V)``).
    """
    if logits.dim() == 3:
        logits, teacher_logits = logits.flatten(0, 1), teacher_logits.flatten(0, 1)
    return F.kl_div(
        F.log_softmax(logits / temperature, dim=1),
        F.log_softmax(teacher_logits / temperature, dim=1),
        log_target=True,
        reduction="batchmean",
    ) * (temperature**2)


def finetune(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    config: Finetune,
    generator: torch.Generator,
    *,
    teacher: nn.Module | None = None,
    first_step: int = 0,
    on_step: StepHook | None = None,
    on_epoch: EpochHook | None = None,
    should_cancel: CancelCheck | None = None,
) -> int:
    """Train ``model`` for ``config.epochs`` epochs on ``(x, y)``.

    Returns:
        The global step count after training (``first_step`` + steps taken).
    """
    optimizer = make_optimizer(model, config)
    step = first_step
    distill = config.distillation if teacher is not None else None
    model.train()
    for epoch in range(config.epochs):
        losses = []
        for inputs, labels in shuffled_batches(x, y, config.batch_size, generator):
            if should_cancel is not None and should_cancel():
                raise RunCancelled("cancelled during finetuning")
            logits = model(inputs)
            loss = task_loss(logits, labels)  # next-token cross entropy for causal LMs
            if distill is not None and teacher is not None:
                with torch.no_grad():
                    teacher_logits = teacher(inputs)
                soft = distillation_loss(logits, teacher_logits, distill.temperature)
                loss = (1.0 - distill.weight) * loss + distill.weight * soft
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            step += 1
            if on_step is not None and on_step(step):
                optimizer = make_optimizer(model, config)
                model.train()
        if on_epoch is not None:
            on_epoch(epoch + 1, sum(losses) / max(len(losses), 1))
    model.eval()
    return step
