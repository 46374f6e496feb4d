"""Torch intra-op thread count for a block of work, restored afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


@contextmanager
def fixed_threads(threads: int | None) -> Iterator[int]:
    """Run with ``threads`` intra-op threads (``None``: leave as is), restored afterwards.

    Small per-block work (selection passes, SparseGPT columns, tiny test models) runs
    faster on one thread on a busy machine: waiting for a second thread costs more.
    """
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield torch.get_num_threads()
    finally:
        torch.set_num_threads(before)
