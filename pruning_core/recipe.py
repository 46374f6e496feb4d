"""A run as data: pydantic models that round-trip to YAML.

The YAML a user exports from the dashboard or writes by hand is exactly
``Recipe.model_dump``; loading it back and running it gives the same result.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from pruning_core.errors import UserInputError

StructureKind = Literal["unstructured", "n:m", "block", "channel"]
AllocationKind = Literal["uniform", "global", "erk"]
Precision = Literal["fp32", "fp16", "bf16"]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Structure(_Frozen):
    """How scores become a mask: single weights, N:M groups, blocks or whole channels."""

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
        """Accept ``"2:4"``, ``"unstructured"``, ``"channel"`` or ``"block"`` as shorthands."""
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
        if self.kind == "n:m" and not self.n < self.m:
            raise ValueError(f"N must be smaller than M, got {self.n}:{self.m}")
        if min(self.block) < 1:
            raise ValueError(f"block sides must be >= 1, got {list(self.block)}")
        return self

    def label(self) -> str:
        """Short human name: ``unstructured``, ``2:4``, ``block 4x4``, ``channel``."""
        if self.kind == "n:m":
            return f"{self.n}:{self.m}"
        if self.kind == "block":
            return f"block {self.block[0]}x{self.block[1]}"
        return self.kind


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


class Recipe(_Frozen):
    """One complete, reproducible pruning run."""

    model: str = "digits_cnn"
    weights: str | None = Field(
        None, description="safetensors file for the model's architecture (null: shipped weights)"
    )
    criterion: str = "magnitude"
    structure: Structure = Structure()
    sparsity: float = Field(0.5, ge=0.0, lt=1.0, description="target sparsity of the pruned layers")
    allocation: AllocationKind = "uniform"
    skip_layers: list[str] | None = Field(
        None, description="layer names or globs left dense (null: first and last layer)"
    )
    schedule: Schedule = Schedule()
    finetune: Finetune = Finetune()
    calibration: Calibration = Calibration()
    precision: Precision = "fp32"
    seed: int = Field(0, ge=0)

    @field_validator("criterion")
    @classmethod
    def _known_criterion(cls, name: str) -> str:
        from pruning_core.criteria import CRITERIA

        if name not in CRITERIA:
            raise ValueError(f"unknown criterion '{name}'; allowed: {', '.join(CRITERIA.names())}")
        return name

    @model_validator(mode="after")
    def _nm_fixes_sparsity(self) -> Recipe:
        if self.structure.kind != "n:m":
            return self
        implied = 1.0 - self.structure.n / self.structure.m
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
        if self.structure.kind == "n:m" and "structure" not in changes:
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
