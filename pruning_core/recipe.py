"""A run as data: pydantic models that round-trip to YAML.

The YAML a user exports from the dashboard or writes by hand is exactly
``Recipe.model_dump``; loading it back and running it gives the same result.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal, get_args

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from pruning_core.errors import UserInputError

StructureKind = Literal["unstructured", "n:m", "block", "channel", "head"]
AllocationKind = Literal["uniform", "global", "erk"]  # decided from one step's scores
# ``sensitivity`` and ``owl`` are resolved once into explicit ``layer_sparsity`` by the run
AllocationName = Literal["uniform", "global", "erk", "sensitivity", "owl"]
Precision = Literal["fp32", "fp16", "bf16", "int8"]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Structure(_Frozen):
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


class Schedule(_Frozen):
    """When pruning happens: once, in rounds with finetuning, or gradually during training."""

    kind: Literal["one_shot", "iterative", "gradual"] = "one_shot"
    rounds: int = Field(3, ge=1, le=100, description="iterative: prune+finetune rounds")
    initial_sparsity: float = Field(0.0, ge=0.0, lt=1.0, description="gradual: sparsity at start")
    start_step: int = Field(0, ge=0, description="gradual: first optimizer step that prunes")
    end_step: int | None = Field(
        None,
        ge=0,
        description="gradual: step where the final sparsity is reached (null: 2/3 of steps)",
    )
    frequency: int = Field(10, ge=1, description="gradual: prune every this many optimizer steps")


class Distillation(_Frozen):
    """Knowledge distillation from the dense model (the teacher) during finetuning."""

    weight: float = Field(0.5, ge=0.0, le=1.0, description="share of the distillation loss")
    temperature: float = Field(4.0, gt=0.0)


class Finetune(_Frozen):
    """Mask-preserving finetuning; for iterative schedules, the budget of each round."""

    epochs: int = Field(2, ge=0, le=1000)
    lr: float = Field(1e-3, gt=0.0, le=10.0)
    batch_size: int = Field(64, ge=1, le=65536)
    optimizer: Literal["adamw", "adam", "sgd"] = "adamw"
    weight_decay: float = Field(0.0, ge=0.0)
    momentum: float = Field(0.9, ge=0.0, lt=1.0, description="sgd momentum")
    distillation: Distillation | None = None


class Calibration(_Frozen):
    """Training-split samples used for gradient and activation statistics."""

    samples: int = Field(256, ge=1)
    batch_size: int = Field(64, ge=1)


class LowRankCompression(_Frozen):
    """Truncated SVD of each pruned layer into two smaller layers (after pruning).

    The rank keeps ``energy`` of the squared singular values, or is ``ratio`` of
    ``min(out, in)``; set one (neither: energy 0.9). Layers where the factors would not be
    smaller are left as they are.
    """

    kind: Literal["lowrank"] = "lowrank"
    energy: float | None = Field(None, gt=0.0, le=1.0, description="share of energy kept")
    ratio: float | None = Field(None, gt=0.0, le=1.0, description="rank / min(out, in)")

    @model_validator(mode="after")
    def _one_rule(self) -> LowRankCompression:
        if self.energy is not None and self.ratio is not None:
            raise ValueError("set energy or ratio, not both")
        if self.energy is None and self.ratio is None:
            object.__setattr__(self, "energy", 0.9)
        return self


class WeightSharingCompression(_Frozen):
    """k-means of each pruned layer's nonzero weights into ``clusters`` shared values."""

    kind: Literal["weight_sharing"] = "weight_sharing"
    clusters: int = Field(16, ge=2, le=256, description="shared values per layer (zero extra)")


Compression = Annotated[
    LowRankCompression | WeightSharingCompression, Field(discriminator="kind")
]


class Owl(_Frozen):
    """Outlier-weighed layerwise sparsity (Yin et al., 2023) for ``allocation: owl``."""

    threshold: float = Field(
        5.0, gt=0.0, description="M: a score |W|*||X|| above M x its layer's mean is an outlier"
    )
    lam: float = Field(
        0.08, ge=0.0, lt=0.5, description="lambda: layer sparsities span target ± lambda"
    )


class Recipe(_Frozen):
    """One complete, reproducible pruning run."""

    model: str = "digits_cnn"
    weights: str | None = Field(
        None, description="safetensors file for the model's architecture (null: shipped weights)"
    )
    criterion: str = "magnitude"
    structure: Structure = Structure()
    sparsity: float = Field(0.5, ge=0.0, lt=1.0, description="target sparsity of the pruned layers")
    allocation: AllocationName = "uniform"
    layer_sparsity: dict[str, float] | None = Field(
        None,
        description="explicit sparsity per pruned layer; overrides allocation (unlisted: dense)",
    )
    owl: Owl = Owl()
    skip_layers: list[str] | None = Field(
        None, description="layer names or globs left dense (null: first and last layer)"
    )
    schedule: Schedule = Schedule()
    finetune: Finetune = Finetune()
    calibration: Calibration = Calibration()
    compression: Compression | None = Field(
        None, description="after pruning: {kind: lowrank, energy} or {kind: weight_sharing}"
    )
    precision: Precision = "fp32"
    seed: int = Field(0, ge=0)

    @field_validator("compression", mode="before")
    @classmethod
    def _compression_shorthand(cls, value: Any) -> Any:
        """Accept ``"lowrank"`` or ``"weight_sharing"`` for the kind with its defaults."""
        return {"kind": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _nm_fixes_sparsity(self) -> Recipe:
        implied = self.structure.implied_sparsity
        if implied is None:
            return self
        if "sparsity" in self.model_fields_set and abs(self.sparsity - implied) > 1e-9:
            raise ValueError(
                f"sparsity: {self.structure.label()} fixes the sparsity of pruned layers at "
                f"{implied:g}; omit sparsity or set it to {implied:g}"
            )
        object.__setattr__(self, "sparsity", implied)
        return self

    def to_yaml(self) -> str:
        """The complete recipe as YAML (every field, defaults included)."""
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)

    def with_updates(self, **changes: Any) -> Recipe:
        """A validated copy with top-level fields replaced (nested values as dicts or models)."""
        data = self.model_dump(mode="json")
        for key, value in changes.items():
            data[key] = value.model_dump(mode="json") if isinstance(value, BaseModel) else value
        if self.structure.is_nm and "structure" not in changes:
            data.pop("sparsity", None)
        return parse_recipe(data)


def _describe(error: ValidationError) -> UserInputError:
    first = error.errors()[0]
    field = ".".join(str(part) for part in first["loc"]) or "recipe"
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        message = "unknown field (not part of a recipe)"
    elif first["type"] == "missing":
        message = "required field is missing"
    return UserInputError(field, message)


def parse_recipe(data: Any) -> Recipe:
    """Validate a mapping as a :class:`Recipe`, raising :class:`UserInputError` if invalid."""
    if not isinstance(data, dict):
        raise UserInputError("recipe", "must be a mapping of fields, e.g. 'criterion: magnitude'")
    try:
        return Recipe.model_validate(data)
    except ValidationError as error:
        raise _describe(error) from None


def recipe_from_yaml(text: str) -> Recipe:
    """Parse YAML text (never executes tags: ``yaml.safe_load``)."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None)
        raise UserInputError(
            "recipe", f"malformed YAML{where}" + (f": {problem}" if problem else "")
        ) from None
    return parse_recipe(data if data is not None else {})


def load_recipe(path: str | Path) -> Recipe:
    """Read a recipe YAML file."""
    file = Path(path)
    if not file.is_file():
        raise UserInputError("recipe", f"file not found: {file}")
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise UserInputError("recipe", f"cannot read {file}: {error}") from None
    return recipe_from_yaml(text)
