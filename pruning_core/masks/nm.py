"""N:M masks: in every M consecutive inputs of a row, keep the N highest scores."""

from __future__ import annotations

import torch


def nm_mask(scores: torch.Tensor, n: int, m: int) -> torch.Tensor:
    """Keep the ``n`` highest of every ``m`` consecutive scores along the input dimension."""
    out_features = scores.shape[0]
    groups = scores.reshape(out_features, -1, m)
    top = groups.topk(n, dim=-1).indices
    keep = torch.zeros_like(groups, dtype=torch.bool).scatter_(-1, top, True)
    return keep.reshape(out_features, -1)
