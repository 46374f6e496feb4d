"""Structured pruning of whole attention heads: score them, then remove them physically.

An attention module qualifies (:func:`is_split_attention`) when it has ``q``, ``k``, ``v``
(``nn.Linear``: dim -> num_heads * head_dim) and ``proj`` (``nn.Linear``: num_heads *
head_dim -> dim), integer ``num_heads`` and ``head_dim``, keeps head ``h`` in rows
``h*head_dim:(h+1)*head_dim`` of q/k/v and the same columns of proj, and derives its
shapes from ``num_heads`` at every call (as ``sample_models``' ``MultiHeadSelfAttention``).
``nn.MultiheadAttention`` (torchvision's ViT) is first converted into such a module by
:func:`pruning_core.structures.heads_mha.convert_multihead_attention`.

A head's score is the sum of the criterion's weight scores over its q/k/v rows and its
proj columns: magnitude ``sum |w|``; gradient / Taylor from the calibration gradients
(``sum mean|g|``, ``sum |w| mean|g|``); Wanda and activation from the input norms (the
proj columns' norms are the head's output activations); random for the baseline.
Removing head ``h`` deletes those rows and columns (Torch-Pruning's linear pruning
functions) and lowers ``num_heads``, so the remaining heads compute exactly what they did
and the model is smaller and cheaper; finetuning then trains the smaller model.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch_pruning as tp
from torch import nn

from pruning_core.criteria import Criterion, LayerStats
from pruning_core.errors import UserInputError

QKV = ("q", "k", "v")
ROLES = (*QKV, "proj")


def is_split_attention(module: nn.Module) -> bool:
    """Whether ``module`` has the head layout described in the module docstring."""
    heads, width = getattr(module, "num_heads", None), getattr(module, "head_dim", None)
    if not (isinstance(heads, int) and isinstance(width, int)):
        return False
    layers = [getattr(module, role, None) for role in ROLES]
    if not all(isinstance(layer, nn.Linear) for layer in layers):
        return False
    inner = heads * width
    q, k, v, proj = layers
    return (
        all(layer.out_features == inner for layer in (q, k, v))  # type: ignore[union-attr]
        and proj.in_features == inner  # type: ignore[union-attr]
    )


def _int_attr(module: nn.Module, name: str) -> int:
    value = getattr(module, name, None)
    assert isinstance(value, int), f"{type(module).__name__}.{name} is not an int"
    return value


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


@dataclass
class AttentionSite:
    """One attention module whose heads can be removed.

    Attributes:
        name: module path.
        module: the module (modified in place when heads go).
        original_heads: heads before any pruning.
        head_dim: width of each head.
        kept: original indices of the heads still present, in order.
    """

    name: str
    module: nn.Module
    original_heads: int
    head_dim: int
    kept: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.kept:  # a module always keeps at least one head: empty means "all"
            self.kept = list(range(self.original_heads))

    def layer_name(self, role: str) -> str:
        """Full name of the ``q``/``k``/``v``/``proj`` layer."""
        return _join(self.name, role)

    def layer(self, role: str) -> nn.Linear:
        layer = getattr(self.module, role)
        assert isinstance(layer, nn.Linear)
        return layer

    @property
    def removed(self) -> int:
        return self.original_heads - len(self.kept)


def find_attention(model: nn.Module) -> list[AttentionSite]:
    """Every split-attention module of ``model``, in module order."""
    return [
        AttentionSite(name, module, _int_attr(module, "num_heads"), _int_attr(module, "head_dim"))
        for name, module in model.named_modules()
        if is_split_attention(module)
    ]


def head_layer_names(model: nn.Module) -> dict[str, list[str]]:
    """Attention module name -> names of its prunable layers that lose rows/columns.

    Covers ``nn.MultiheadAttention`` too (only ``out_proj`` is a layer before conversion).
    """
    names: dict[str, list[str]] = {}
    for name, module in model.named_modules():
        if is_split_attention(module):
            names[name] = [_join(name, role) for role in ROLES]
        elif isinstance(module, nn.MultiheadAttention):
            names[name] = [_join(name, "out_proj")]
    return names


def head_scores(
    site: AttentionSite, criterion: Criterion, stats: dict[str, LayerStats]
) -> torch.Tensor:
    """Importance of each present head (higher = keep), shape ``(heads,)``, float64."""
    heads, width = len(site.kept), site.head_dim
    total = torch.zeros(heads, dtype=torch.float64)
    for role in QKV:
        weight = site.layer(role).weight.detach()
        score = criterion.score(weight, stats[site.layer_name(role)]).double()
        total += score.reshape(heads, width, -1).sum(dim=(1, 2))
    proj = site.layer("proj").weight.detach()
    score = criterion.score(proj, stats[site.layer_name("proj")]).double()
    return total + score.reshape(proj.shape[0], heads, width).sum(dim=(0, 2))


def remove_heads(site: AttentionSite, heads: list[int]) -> None:
    """Physically remove heads (positions among the present ones) from the module."""
    drop = sorted(set(heads))
    if not drop:
        return
    if len(drop) >= len(site.kept) or min(drop) < 0 or max(drop) >= len(site.kept):
        raise ValueError(f"cannot remove heads {drop} of {len(site.kept)} from '{site.name}'")
    width = site.head_dim
    index = [h * width + j for h in drop for j in range(width)]
    for role in QKV:
        tp.prune_linear_out_channels(site.layer(role), index)
    tp.prune_linear_in_channels(site.layer("proj"), index)
    setattr(site.module, "num_heads", len(site.kept) - len(drop))  # noqa: B010 (typed nn.Module)
    site.kept = [original for i, original in enumerate(site.kept) if i not in drop]


def prune_heads(
    sites: list[AttentionSite],
    criterion: Criterion,
    stats: dict[str, LayerStats],
    fraction: float,
) -> None:
    """Remove the lowest-scored heads until ``fraction`` of each module's original heads is gone.

    At least one head of every module stays. Heads removed earlier count towards the
    fraction (iterative and gradual schedules).
    """
    for site in sites:
        goal = min(round(fraction * site.original_heads), site.original_heads - 1)
        count = goal - site.removed
        if count <= 0:
            continue
        scores = head_scores(site, criterion, stats)
        remove_heads(site, torch.argsort(scores, stable=True)[:count].tolist())


def dense_layout(site: AttentionSite, role: str) -> torch.Tensor:
    """The layer's current weight in its original shape, removed heads as zero rows/columns."""
    weight = site.layer(role).weight.detach()
    width = site.head_dim
    index = torch.tensor([h * width + j for h in site.kept for j in range(width)])
    full = site.original_heads * width
    if role == "proj":
        out = weight.new_zeros((weight.shape[0], full))
        out[:, index] = weight
    else:
        out = weight.new_zeros((full, weight.shape[1]))
        out[index] = weight
    return out


def head_counts(sites: list[AttentionSite]) -> dict[str, int]:
    """Total heads before and after pruning."""
    return {
        "heads_original": sum(site.original_heads for site in sites),
        "heads": sum(len(site.kept) for site in sites),
    }


def head_layer_notes(
    model: nn.Module, layer_names: list[str], skipped: dict[str, str]
) -> dict[str, str]:
    """Why each layer is left alone by a ``head`` run (layers of prunable heads get none).

    Raises:
        UserInputError: the model has no attention module whose heads can be removed.
    """
    sites = head_layer_names(model)
    if not sites:
        raise UserInputError(
            "structure",
            "'head' needs attention modules (q/k/v/proj with num_heads and head_dim, or "
            "nn.MultiheadAttention) and this model has none; "
            "allowed: unstructured, n:m, block, channel",
        )
    notes = {}
    for site, names in sites.items():
        blocked = [name for name in names if name in skipped]
        for name in names:
            if blocked and name not in skipped:
                notes[name] = f"heads of '{site}' kept: '{blocked[0]}' is in skip_layers"
    in_heads = {name for names in sites.values() for name in names}
    for name in layer_names:
        if name not in in_heads and name not in skipped:
            notes[name] = "not an attention projection (structure 'head' removes whole heads)"
    return notes
