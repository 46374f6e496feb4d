"""How scores become a mask, and the rules that follow from it.

A :class:`Structure` owns every rule about itself that needs no tensors: its label, the
sparsity N:M implies, whether a layer of a given shape fits, how many groups a layer
has, and which allocations apply. Nothing else in the engine compares ``kind`` strings.
"""

from __future__ import annotations

from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator

StructureKind = Literal["unstructured", "n:m", "block", "channel", "head"]
AllocationKind = Literal["uniform", "global", "erk"]  # decided from one step's scores
# ``sensitivity`` and ``owl`` are resolved once into explicit ``layer_sparsity`` by the run
AllocationName = Literal["uniform", "global", "erk", "sensitivity", "owl"]


class Frozen(BaseModel):
    """Base of every recipe part: unknown fields refused, immutable, NaN/Inf refused."""

    # NaN and Inf are refused in every numeric field (they silently ruin a run's weights).
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Structure(Frozen):
    """How scores become a mask: single weights, N:M groups, blocks or whole channels.

    ``head`` removes whole attention heads instead (q/k/v rows and output-projection
    columns); the recipe's ``sparsity`` is then the share of heads removed from every
    attention module (rounded, at least one head kept).
    """

    kind: StructureKind = "unstructured"
    n: int = Field(2, ge=1, description="N of N:M: nonzeros kept in every M consecutive inputs")
    m: int = Field(4, ge=2, le=64, description="M of N:M")
    block: tuple[int, int] = (4, 4)
    skip_incompatible: bool = Field(
        False,
        description="skip layers whose shape does not fit N:M or the block instead of failing",
    )

    @model_validator(mode="before")
    @classmethod
    def _from_shorthand(cls, value: Any) -> Any:
        """Accept ``"2:4"`` or a kind name (``"unstructured"``, ``"channel"``, ...) as shorthand."""
        if isinstance(value, str):
            if ":" in value and value != "n:m":
                n_text, _, m_text = value.partition(":")
                if not (n_text.strip().isdigit() and m_text.strip().isdigit()):
                    raise ValueError(f"'{value}' is not N:M with integers N < M, e.g. '2:4'")
                return {"kind": "n:m", "n": int(n_text), "m": int(m_text)}
            return {"kind": value}
        return value

    @model_validator(mode="after")
    def _check_sizes(self) -> Structure:
        if self.is_nm and not self.n < self.m:
            raise ValueError(f"N must be smaller than M, got {self.n}:{self.m}")
        if min(self.block) < 1:
            raise ValueError(f"block sides must be >= 1, got {list(self.block)}")
        return self

    @property
    def is_nm(self) -> bool:
        """N:M: a fixed pattern in every row, so each layer is either on (1 - n/m) or off."""
        return self.kind == "n:m"

    @property
    def removes_channels(self) -> bool:
        """Whole output channels are removed and the model physically shrinks."""
        return self.kind == "channel"

    @property
    def removes_heads(self) -> bool:
        """Whole attention heads are removed (q/k/v rows, output-projection columns)."""
        return self.kind == "head"

    @property
    def changes_shapes(self) -> bool:
        """Pruning replaces parameters by smaller ones instead of masking them."""
        return self.removes_channels or self.removes_heads

    @property
    def masks_single_weights(self) -> bool:
        """Each weight is kept or zeroed on its own (unstructured, N:M): OBS-style updates fit."""
        return self.kind in ("unstructured", "n:m")

    @property
    def has_groups(self) -> bool:
        """Scores are grouped (weights, blocks, channels) and allocation chooses per group."""
        return self.kind in ("unstructured", "block", "channel")

    @property
    def nm(self) -> tuple[int, int] | None:
        """``(n, m)`` for N:M, else ``None``."""
        return (self.n, self.m) if self.is_nm else None

    @property
    def implied_sparsity(self) -> float | None:
        """The sparsity N:M fixes for every pruned layer (``1 - n/m``); ``None`` otherwise."""
        return 1.0 - self.n / self.m if self.is_nm else None

    @property
    def allowed_allocations(self) -> tuple[str, ...]:
        """Allocations that make sense for this structure."""
        if self.removes_heads:
            return ("uniform",)
        every = get_args(AllocationName)
        if self.is_nm:  # layers are on or off: OWL's graded sparsities do not apply
            return tuple(name for name in every if name != "owl")
        return every

    def label(self) -> str:
        """Short human name: ``unstructured``, ``2:4``, ``block 4x4``, ``channel``, ``head``."""
        if self.is_nm:
            return f"{self.n}:{self.m}"
        if self.kind == "block":
            return f"block {self.block[0]}x{self.block[1]}"
        return self.kind

    def incompatibility(self, shape_2d: tuple[int, int]) -> str | None:
        """Why a layer of 2-D shape ``(out, in)`` cannot take this structure, or ``None``."""
        out_features, in_features = shape_2d
        if self.is_nm and in_features % self.m:
            return f"input size {in_features} is not a multiple of M={self.m}"
        if self.kind == "block":
            bh, bw = self.block
            if out_features % bh or in_features % bw:
                return f"shape {out_features}x{in_features} is not divisible by block {bh}x{bw}"
        if self.removes_channels and out_features < 2:
            return "a layer with one output channel cannot lose channels"
        return None

    def group_count(self, shape_2d: tuple[int, int]) -> int:
        """How many groups allocation chooses among in a layer (N:M: one, on or off)."""
        out_features, in_features = shape_2d
        if self.is_nm:
            return 1
        if self.kind == "block":
            return (out_features // self.block[0]) * (in_features // self.block[1])
        if self.removes_channels:
            return out_features
        return out_features * in_features

    def layer_sparsity_problem(self, value: float) -> str | None:
        """Why ``value`` is not a valid explicit sparsity for one layer, or ``None``."""
        if not 0.0 <= value < 1.0:
            return f"sparsity must lie in [0, 1), got {value:g}"
        implied = self.implied_sparsity
        if implied is not None and value != 0.0 and abs(value - implied) > 1e-9:
            return f"{self.label()} layers are on ({implied:g}) or off (0), got {value:g}"
        return None
