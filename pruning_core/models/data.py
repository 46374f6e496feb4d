"""Data splits as the engine sees them: tensors of inputs and labels per split.

A model's data function returns ``{"train", "val", "test"}`` :class:`Split` objects:
training, finetuning and calibration draw from ``train``, choices (allocation, early
stopping) from ``val``, and ``test`` only reports the final metric.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Split:
    """Inputs ``x`` (N, ...) and int64 labels ``y`` (N,) of one split."""

    x: torch.Tensor
    y: torch.Tensor

    def __len__(self) -> int:
        return int(self.y.shape[0])


DataFn = Callable[[], dict[str, Split]]
Batches = list[tuple[torch.Tensor, torch.Tensor]]


def calibration_batches(train: Split | None, samples: int, batch_size: int, seed: int) -> Batches:
    """The seeded calibration batches drawn from ``train`` (empty without data).

    Every part of the engine (runs, sensitivity profiles, allocation) calibrates on
    exactly these batches for a given seed, so their statistics agree.
    """
    if train is None:
        return []
    order = torch.randperm(len(train), generator=torch.Generator().manual_seed(seed))
    index = order[:samples]
    return [
        (train.x[index[i : i + batch_size]], train.y[index[i : i + batch_size]])
        for i in range(0, len(index), batch_size)
    ]
