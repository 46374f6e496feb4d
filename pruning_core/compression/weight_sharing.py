"""Weight sharing: each layer's nonzero weights clustered into ``k`` shared values.

1-D k-means (Lloyd) with linear initialisation between the smallest and largest weight
(as in Deep Compression, Han et al. 2016), deterministic. Pruned zeros are not clustered:
zero stays an exact value of its own, so the pattern survives. Storage is a codebook plus
one bit-packed code per weight (see the ``codebook``/``csr_codebook`` formats);
:func:`pack_codes` produces exactly those bytes.
"""

from __future__ import annotations

import torch
from torch import nn

from pruning_core.models.layers import module_weight


def kmeans_1d(values: torch.Tensor, clusters: int, iterations: int = 30) -> torch.Tensor:
    """Sorted centroids of ``values`` (1-D) after Lloyd iterations from a linear init."""
    data = values.detach().double().flatten()
    if data.numel() == 0:
        return data
    low, high = float(data.min()), float(data.max())
    k = min(clusters, int(torch.unique(data).numel()))
    centroids = torch.linspace(low, high, k, dtype=torch.float64)
    for _ in range(iterations):
        assign = nearest(data, centroids)
        sums = torch.zeros(k, dtype=torch.float64).index_add_(0, assign, data)
        counts = torch.bincount(assign, minlength=k).double()
        updated = torch.where(counts > 0, sums / counts.clamp_min(1), centroids)
        updated, _ = torch.sort(updated)
        if torch.equal(updated, centroids):
            break
        centroids = updated
    return centroids


def nearest(values: torch.Tensor, sorted_centroids: torch.Tensor) -> torch.Tensor:
    """Index of the nearest of ``sorted_centroids`` for every value."""
    midpoints = (sorted_centroids[1:] + sorted_centroids[:-1]) / 2
    return torch.bucketize(values, midpoints)


@torch.no_grad()
def share_weights(weight: torch.Tensor, clusters: int) -> torch.Tensor:
    """``weight`` with each nonzero replaced by its cluster's centroid (zeros stay zero)."""
    nonzero = weight != 0
    if not bool(nonzero.any()):
        return weight.clone()
    values = weight[nonzero].double()
    centroids = kmeans_1d(values, clusters)
    result = torch.zeros_like(weight)
    result[nonzero] = centroids[nearest(values, centroids)].to(weight.dtype)
    return result


def share_layers(model: nn.Module, names: list[str], clusters: int) -> dict[str, str]:
    """Cluster the weights of each named layer in place; returns a note per layer."""
    notes = {}
    for name in names:
        weight = module_weight(model.get_submodule(name))
        with torch.no_grad():
            weight.copy_(share_weights(weight, clusters))
        distinct = int(torch.unique(weight[weight != 0]).numel())
        notes[name] = f"weight sharing: {distinct} shared values"
    return notes


def pack_codes(codes: torch.Tensor, bits: int) -> torch.Tensor:
    """Bit-pack non-negative integer ``codes`` (each < 2**bits) into a uint8 tensor.

    Little-endian within the stream: code ``i`` occupies bits ``[i * bits, (i + 1) * bits)``.
    The result has ``ceil(numel * bits / 8)`` bytes.
    """
    flat = codes.flatten().to(torch.int64)
    shifts = torch.arange(bits, dtype=torch.int64)
    stream = ((flat[:, None] >> shifts) & 1).flatten().to(torch.uint8)
    padding = (-stream.numel()) % 8
    stream = torch.cat([stream, torch.zeros(padding, dtype=torch.uint8)])
    weights = (2 ** torch.arange(8, dtype=torch.int64)).to(torch.uint8)
    return (stream.reshape(-1, 8) * weights).sum(dim=1, dtype=torch.uint8)


def unpack_codes(packed: torch.Tensor, bits: int, count: int) -> torch.Tensor:
    """Inverse of :func:`pack_codes` for the first ``count`` codes."""
    stream = (packed.to(torch.int64)[:, None] >> torch.arange(8)) & 1
    bit_rows = stream.flatten()[: count * bits].reshape(count, bits)
    return (bit_rows << torch.arange(bits)).sum(dim=1)


def encode(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(codebook, codes)``: the distinct values of ``weight`` and each weight's index."""
    codebook, codes = torch.unique(weight.detach().flatten(), return_inverse=True)
    return codebook, codes
