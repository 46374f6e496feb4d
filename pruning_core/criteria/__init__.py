"""Pruning criteria: pure score functions ``score(weight, stats) -> Tensor`` (higher = keep).

A criterion never builds a mask; structures do (see :mod:`pruning_core.structures.grouping`).
Importing this package registers every built-in criterion in :data:`CRITERIA`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from pruning_core.registry import Registry


@dataclass
class LayerStats:
    """Statistics of one layer gathered on calibration data (all optional).

    Attributes:
        in_sq_norm: sum over samples of squared inputs per column of the 2-D weight view,
            shape ``(in,)`` or ``(out, in)`` for grouped convolutions.
        out_abs_mean: mean absolute output per output channel, shape ``(out,)``.
        grad_abs_mean: mean over calibration batches of ``|dL/dW|``, the weight's shape.
        hessian: ``H = 2 X^T X`` of the layer's inputs ``X`` (rows = samples, columns = the
            columns of the 2-D weight view), shape ``(groups, in/groups, in/groups)``.
        generator: seeded generator for the random baseline.
    """

    in_sq_norm: torch.Tensor | None = None
    out_abs_mean: torch.Tensor | None = None
    grad_abs_mean: torch.Tensor | None = None
    hessian: torch.Tensor | None = field(default=None, repr=False)
    generator: torch.Generator | None = field(default=None, repr=False)


ScoreFn = Callable[[torch.Tensor, LayerStats], torch.Tensor]
ChannelScoreFn = Callable[[torch.Tensor, LayerStats], torch.Tensor]
# (weight_2d, stats, sparsity, nm, keep_before) -> (new_weight_2d, keep): one-shot pruning of a
# layer from its calibration statistics, weights possibly updated (SparseGPT). ``nm`` = (N, M)
# overrides ``sparsity``; ``keep_before`` is the layer's current mask (already pruned stay so).
ReconstructFn = Callable[
    [torch.Tensor, LayerStats, float, tuple[int, int] | None, torch.Tensor | None],
    tuple[torch.Tensor, torch.Tensor],
]


@dataclass(frozen=True)
class Criterion:
    """A registered criterion.

    Attributes:
        name: registry name.
        score: weight-shaped importance (higher = keep).
        needs: statistics it reads: ``"grad"`` and/or ``"activation"``.
        channel_score: optional per-output-channel importance, ``(out,)``; by default a
            channel's score is the sum of its weights' scores.
        description: one line for the UI.
        per_row: unstructured scores are compared within each output row (Wanda), not
            over the whole layer.
        reconstruct: one-shot layer pruning from calibration statistics; when set, unstructured
            and N:M runs prune block by block on the outputs of the already pruned blocks
            (see :mod:`pruning_core.pruning.sequential`).
        structures: structure kinds the criterion supports (``None``: all).
    """

    name: str
    score: ScoreFn
    needs: frozenset[str] = frozenset()
    channel_score: ChannelScoreFn | None = None
    description: str = ""
    per_row: bool = False
    reconstruct: ReconstructFn | None = None
    structures: frozenset[str] | None = None

    def score_channels(self, weight: torch.Tensor, stats: LayerStats) -> torch.Tensor:
        """Per-output-channel importance, shape ``(out,)``."""
        if self.channel_score is not None:
            return self.channel_score(weight, stats)
        return self.score(weight, stats).reshape(weight.shape[0], -1).sum(dim=1)


CRITERIA: Registry[Criterion] = Registry("criterion")


def register_criterion(criterion: Criterion) -> Criterion:
    """Add a criterion to :data:`CRITERIA` (also the entry point for user criteria)."""
    CRITERIA.add(criterion.name, criterion)
    return criterion


from pruning_core.criteria import classic as _classic  # noqa: E402,F401  (registers built-ins)
from pruning_core.criteria import sparsegpt as _sparsegpt  # noqa: E402,F401
from pruning_core.criteria import wanda as _wanda  # noqa: E402,F401
