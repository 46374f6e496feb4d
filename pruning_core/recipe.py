"""A run as data: pydantic models that round-trip to YAML.

The YAML a user exports from the dashboard or writes by hand is exactly
``Recipe.model_dump``; loading it back and running it gives the same result.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from pruning_core.data_config import DataSource
from pruning_core.errors import UserInputError, from_validation_error
from pruning_core.structure import (
    AllocationKind,
    AllocationName,
    Frozen,
    Structure,
    StructureKind,
)
from pruning_core.yaml_input import load_yaml_file, load_yaml_text

Precision = Literal["fp32", "fp16", "bf16", "int8"]
MAX_LIST_ITEMS = 10_000  # skip_layers patterns, layer_sparsity entries
MAX_SEED = 2**32 - 1
MAX_STEPS = 10**9  # optimizer steps (start, end, frequency of the gradual schedule)


class Schedule(Frozen):
    """When pruning happens: once, in rounds with finetuning, or gradually during training."""

    kind: Literal["one_shot", "iterative", "gradual"] = "one_shot"
    rounds: int = Field(3, ge=1, le=100, description="iterative: prune+finetune rounds")
    initial_sparsity: float = Field(0.0, ge=0.0, lt=1.0, description="gradual: sparsity at start")
    start_step: int = Field(
        0, ge=0, le=MAX_STEPS, description="gradual: first optimizer step that prunes"
    )
    end_step: int | None = Field(
        None,
        ge=0,
        le=MAX_STEPS,
        description="gradual: step where the final sparsity is reached (null: 2/3 of steps)",
    )
    frequency: int = Field(
        10, ge=1, le=MAX_STEPS, description="gradual: prune every this many optimizer steps"
    )


class Distillation(Frozen):
    """Knowledge distillation from the dense model (the teacher) during finetuning."""

    weight: float = Field(0.5, ge=0.0, le=1.0, description="share of the distillation loss")
    temperature: float = Field(4.0, gt=0.0, le=1000.0)


class Finetune(Frozen):
    """Mask-preserving finetuning; for iterative schedules, the budget of each round."""

    epochs: int = Field(2, ge=0, le=1000)
    lr: float = Field(1e-3, gt=0.0, le=10.0)
    batch_size: int = Field(64, ge=1, le=65536)
    optimizer: Literal["adamw", "adam", "sgd"] = "adamw"
    weight_decay: float = Field(0.0, ge=0.0, le=10.0)
    momentum: float = Field(0.9, ge=0.0, lt=1.0, description="sgd momentum")
    distillation: Distillation | None = None


class Calibration(Frozen):
    """Training-split samples used for gradient and activation statistics."""

    samples: int = Field(256, ge=1, le=1_000_000)
    batch_size: int = Field(64, ge=1, le=65536)


class LowRankCompression(Frozen):
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


class WeightSharingCompression(Frozen):
    """k-means of each pruned layer's nonzero weights into ``clusters`` shared values."""

    kind: Literal["weight_sharing"] = "weight_sharing"
    clusters: int = Field(16, ge=2, le=256, description="shared values per layer (zero extra)")


Compression = Annotated[LowRankCompression | WeightSharingCompression, Field(discriminator="kind")]


class Owl(Frozen):
    """Outlier-weighed layerwise sparsity (Yin et al., 2023) for ``allocation: owl``."""

    threshold: float = Field(
        5.0,
        gt=0.0,
        le=1000.0,
        description="M: a score |W|*||X|| above M x its layer's mean is an outlier",
    )
    lam: float = Field(
        0.08, ge=0.0, lt=0.5, description="lambda: layer sparsities span target ± lambda"
    )


class Recipe(Frozen):
    """One complete, reproducible pruning run."""

    model: str = "digits_cnn"
    weights: str | None = Field(
        None, description="safetensors file for the model's architecture (null: shipped weights)"
    )
    data: DataSource | None = Field(
        None, description="your own data: {kind: text, ...} or {kind: image_folder, ...}"
    )
    criterion: str = "magnitude"
    structure: Structure = Structure()
    sparsity: float = Field(0.5, ge=0.0, lt=1.0, description="target sparsity of the pruned layers")
    allocation: AllocationName = "uniform"
    layer_sparsity: dict[str, float] | None = Field(
        None,
        max_length=MAX_LIST_ITEMS,
        description="explicit sparsity per pruned layer; overrides allocation (unlisted: dense)",
    )
    owl: Owl = Owl()
    skip_layers: list[str] | None = Field(
        None,
        max_length=MAX_LIST_ITEMS,
        description="layer names or globs left dense (null: first and last layer)",
    )
    schedule: Schedule = Schedule()
    finetune: Finetune = Finetune()
    calibration: Calibration = Calibration()
    compression: Compression | None = Field(
        None, description="after pruning: {kind: lowrank, energy} or {kind: weight_sharing}"
    )
    precision: Precision = "fp32"
    seed: int = Field(0, ge=0, le=MAX_SEED)

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


def parse_recipe(data: Any) -> Recipe:
    """Validate a mapping as a :class:`Recipe`, raising :class:`UserInputError` if invalid."""
    if not isinstance(data, dict):
        raise UserInputError("recipe", "must be a mapping of fields, e.g. 'criterion: magnitude'")
    try:
        return Recipe.model_validate(data)
    except ValidationError as error:
        raise from_validation_error(error, "recipe") from None


def recipe_from_yaml(text: str) -> Recipe:
    """Parse YAML text (safe: no tags, duplicate keys refused, size and depth capped)."""
    return parse_recipe(load_yaml_text(text, "recipe"))


def load_recipe(path: str | Path) -> Recipe:
    """Read a recipe YAML file."""
    return parse_recipe(load_yaml_file(path, "recipe"))


__all__ = [
    "AllocationKind",
    "AllocationName",
    "Calibration",
    "Compression",
    "Distillation",
    "Finetune",
    "LowRankCompression",
    "Owl",
    "Precision",
    "Recipe",
    "Schedule",
    "Structure",
    "StructureKind",
    "WeightSharingCompression",
    "load_recipe",
    "parse_recipe",
    "recipe_from_yaml",
]
