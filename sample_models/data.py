"""The one fixed train/val/test split of scikit-learn's bundled digits data.

Every part of the project uses this split: training and finetuning and calibration
draw from ``train``, choices (early stopping, allocation) from ``val``; ``test`` is
only ever used to report final accuracy.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
from sklearn.datasets import load_digits

from pruning_core.models.data import Split

__all__ = ["Split", "digits_splits"]

SPLIT_SEED = 20261125
VAL_FRACTION = 0.2
TEST_FRACTION = 0.2


@lru_cache(maxsize=1)
def digits_splits() -> dict[str, Split]:
    """Return the fixed ``train``/``val``/``test`` splits (stratified, seeded)."""
    data = load_digits()
    images = (data.images.astype(np.float32) / 16.0)[:, None, :, :]
    labels = data.target.astype(np.int64)
    rng = np.random.default_rng(SPLIT_SEED)
    parts: dict[str, list[int]] = {"train": [], "val": [], "test": []}
    for label in range(10):
        idx = rng.permutation(np.flatnonzero(labels == label))
        n_test = round(len(idx) * TEST_FRACTION)
        n_val = round(len(idx) * VAL_FRACTION)
        parts["test"] += idx[:n_test].tolist()
        parts["val"] += idx[n_test : n_test + n_val].tolist()
        parts["train"] += idx[n_test + n_val :].tolist()
    out = {}
    for name, indices in parts.items():
        order = np.sort(np.asarray(indices))
        out[name] = Split(torch.from_numpy(images[order]), torch.from_numpy(labels[order]))
    return out
