"""Losses and perplexity for causal language models (logits ``(N, T, V)``).

Perplexity is measured as the SparseGPT and Wanda papers evaluate wikitext2: the test
tokens are cut into non-overlapping windows of ``seq_len`` (see
:mod:`pruning_core.models.text_data`), each window is run on its own (no context carried
over), every position ``t < T - 1`` predicts token ``t + 1``, and

    perplexity = exp(mean over all predicted tokens of -log p(token))

which equals the papers' ``exp(sum of per-window mean losses * T / (windows * T))``
because every window has the same length.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

LOGIT_BUDGET = 2**25  # logits held at once (floats): bounds eval memory for large vocabularies


def next_token_loss(
    logits: torch.Tensor, ids: torch.Tensor, reduction: str = "mean"
) -> torch.Tensor:
    """Cross entropy of predicting ``ids[:, t + 1]`` from ``logits[:, t]``."""
    vocab = logits.shape[-1]
    return F.cross_entropy(
        logits[:, :-1].reshape(-1, vocab).float(), ids[:, 1:].reshape(-1), reduction=reduction
    )


def task_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """The training loss of a model's output: next-token CE for ``(N, T, V)`` logits of a
    causal LM (labels are the input ids ``(N, T)``), plain cross entropy for classifiers."""
    if logits.dim() == 3 and labels.dim() == 2:
        return next_token_loss(logits, labels)
    return F.cross_entropy(logits, labels)


def eval_batch_size(seq_len: int, vocab: int) -> int:
    """Windows per forward pass so that the logits stay within :data:`LOGIT_BUDGET`."""
    return max(1, LOGIT_BUDGET // max(seq_len * vocab, 1))


@torch.no_grad()
def perplexity(
    model: nn.Module, windows: torch.Tensor, batch_size: int | None = None
) -> tuple[float, float]:
    """``(perplexity, mean negative log-likelihood per predicted token)`` over ``windows``.

    Args:
        model: maps ids ``(N, T)`` to logits ``(N, T, V)``; run in eval mode, on the device
            of its parameters.
        windows: int64 ``(N, T)``, non-overlapping windows of the text.
        batch_size: windows per forward pass (default: from the logits' size).
    """
    if windows.dim() != 2 or windows.shape[1] < 2 or len(windows) == 0:
        raise ValueError(f"windows must be (N >= 1, T >= 2), got {tuple(windows.shape)}")
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    total, count = 0.0, 0
    try:
        start = 0
        while start < len(windows):
            size = batch_size or 1  # the first window alone tells the vocabulary size
            ids = windows[start : start + size].to(device)
            logits = model(ids)
            total += float(next_token_loss(logits, ids, reduction="sum"))
            count += ids.shape[0] * (ids.shape[1] - 1)
            start += size
            batch_size = batch_size or eval_batch_size(ids.shape[1], logits.shape[-1])
    finally:
        model.train(was_training)
    nll = total / count
    return math.exp(nll), nll
